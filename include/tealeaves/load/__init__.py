"""Loaders: source exports into the `raw` schema, every row either loaded or quarantined with a reason."""

from tealeaves.load.loader import BatchResult, LoadError, load_file, load_paths

__all__ = ["BatchResult", "LoadError", "load_file", "load_paths"]
