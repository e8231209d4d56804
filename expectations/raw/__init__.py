"""Raw suites: one module per raw table (named after it), each validated on one new batch at a time.

See tealeaves.quality.raw_gate. `load_batches.py` applies to every batch, whatever its table.
"""
