"""Loaders: source exports into the `raw` schema, every row either loaded or quarantined with a reason."""

from tealeaves.load.loader import BatchResult, LoadError, WarehouseLost, load_file, load_paths

__all__ = ["BatchResult", "LoadError", "WarehouseLost", "load_file", "load_paths"]
