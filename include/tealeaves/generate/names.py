"""Faker's weighted first and last names, drawn exactly as Faker draws them, without Faker's per-call cost.

Faker picks a name from a table of thousands with weights: every call copies the weights and sums them again
(random.choices without cum_weights), the generator's largest single cost. The sums never change, so they are
made once here; random.choices with those cum_weights draws the same number from the same stream and picks the
same name, so every byte written stays as Faker would write it. Names drawn inside other Faker methods (the
last names in `company()`) go through the generator's formatter, so they are sped up too.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from itertools import accumulate

from faker import Faker

CACHED = ("first_name", "last_name")


def cache_name_weights(fake: Faker) -> Faker:
    """Replace `fake`'s weighted first_name and last_name with the same draws from sums made once."""
    for name in CACHED:
        provider = getattr(fake, name).__self__
        table = getattr(provider, f"{name}s", None)
        if not isinstance(table, OrderedDict) or not provider.__use_weighting__:
            continue  # not a weighted table: Faker's own draw is already cheap
        provider.generator.set_formatter(name, _weighted_draw(provider.generator, tuple(table), table.values()))
    return fake


def _weighted_draw(generator, population: tuple[str, ...], weights) -> Callable[[], str]:
    cum_weights = list(accumulate(weights))

    def draw() -> str:
        # generator.random at each call: seed_instance() gives the generator a new Random
        return generator.random.choices(population, cum_weights=cum_weights)[0]

    return draw
