"""Every batch, whatever its table: how much of the file was quarantined, and how its size compares with the
recent batches of the same file.

A file the loader could mostly not read is a broken export, not a few bad rows: above the threshold the batch
is held back whole. A file far smaller than the same file usually is (a truncated download, an export that
timed out) is held back; one far larger only warns, since growth is usually real.
"""

import great_expectations as gx

from tealeaves.quality import Check

TABLE = "load_batches"
GRAIN = ("batch_id",)

MAX_REJECTED_SHARE = 0.05
DROP_BELOW = 0.5  # of the median of the last batches of the same file
SPIKE_ABOVE = 3.0
HISTORY = 5

# The same file over time: same source and entity, and the same name once dates and numbers are taken out.
_RECENT_MEDIAN = f"""
    (select percentile_cont(0.5) within group (order by recent.rows_in)
       from (select earlier.rows_in from raw.load_batches as earlier
              where earlier.source = b.source and earlier.entity = b.entity
                and regexp_replace(earlier.file_name, '[0-9]', '', 'g') = regexp_replace(b.file_name, '[0-9]', '', 'g')
                and earlier.batch_id < b.batch_id and earlier.status = 'loaded' and earlier.validation = 'passed'
              order by earlier.batch_id desc limit {HISTORY}) as recent)
"""


def expectations() -> list[Check]:
    ex = gx.expectations
    return [
        Check(
            ex.UnexpectedRowsExpectation(
                description=f"At most {MAX_REJECTED_SHARE:.0%} of the file's rows are rejected",
                unexpected_rows_query=(
                    "select batch_id, file_name, rows_in, rows_rejected from {batch}"
                    f" where rows_rejected > {MAX_REJECTED_SHARE} * rows_in"
                ),
            )
        ),
        Check(
            ex.UnexpectedRowsExpectation(
                description=f"Not under {DROP_BELOW:.0%} of the rows the same file had in its recent batches",
                unexpected_rows_query=(
                    f"select b.batch_id, b.file_name, b.rows_in, {_RECENT_MEDIAN} as recent_median"
                    f" from (select * from {{batch}}) as b where b.rows_in < {DROP_BELOW} * {_RECENT_MEDIAN}"
                ),
            )
        ),
        Check(
            ex.UnexpectedRowsExpectation(
                description=f"Not over {SPIKE_ABOVE:g}x the rows the same file had in its recent batches",
                unexpected_rows_query=(
                    f"select b.batch_id, b.file_name, b.rows_in, {_RECENT_MEDIAN} as recent_median"
                    f" from (select * from {{batch}}) as b where b.rows_in > {SPIKE_ABOVE} * {_RECENT_MEDIAN}"
                ),
            ),
            severity="warning",
        ),
    ]
