"""The `tealeaves` command: one entry point for people, `make` and CI."""

from tealeaves.commands import app

__all__ = ["app"]
