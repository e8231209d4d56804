"""The `tealeaves` command: one entry point for people, `make` and CI."""

from tealeaves.commands import app, main

__all__ = ["app", "main"]
