"""Renderers: one per source system, each turning simulated lives into that system's export files.

Every module here is imported, and every `Renderer` subclass with a `source` registers itself: a new
source is a new module, with no list to edit.
"""

from __future__ import annotations

import importlib
import pkgutil

from tealeaves.generate.render.base import REGISTRY, Renderer


def renderers() -> list[type[Renderer]]:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return [REGISTRY[name] for name in sorted(REGISTRY)]
