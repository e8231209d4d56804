"""Raw suites: one module per raw table (named after it), each judging every new batch of its table.

The gate validates a table's new batches together, so a check about "the batch" (a count, a repeated key) groups
by `_batch_id` (see `key_is_unique` in tealeaves.quality.raw_suites); a row-by-row check needs nothing. See
tealeaves.quality.raw_gate. `load_batches.py` applies to every batch, whatever its table.
"""
