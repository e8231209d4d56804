"""Checks the raw suites in expectations/raw/ share: keys, plausible times, currency codes."""

from datetime import UTC, date, datetime, time

import great_expectations as gx

from tealeaves.config import get_settings
from tealeaves.load.ddl import BATCH_COLUMN  # every raw row's batch: checks about "the batch" group by it
from tealeaves.quality import Check
from tealeaves.quality.checks import Severity

# Re-sent and cosmetically edited copies of a record are normal in exports (staging keeps the newest); a batch
# where many rows share a key is a broken export or a join gone wrong upstream.
MOSTLY_UNIQUE = 0.95
MANY_ROWS = 10
ISO_CURRENCY = r"^[A-Za-z]{3}$"


def key_is_unique(columns: list[str]) -> list[Check]:
    """Blocking when many rows of a batch share a key; a warning for any repeat within a batch.

    "Many" is more than 5% of the batch's rows and more than 10 rows: a small late delivery holding one re-sent
    pair is normal, a file where a fifth of the invoices come twice is not. The same record in two batches (a
    late file re-sending it) is not a repeat: staging keeps the newest.
    """
    ex = gx.expectations
    batch = f'"{BATCH_COLUMN}"'
    keys = ", ".join(f'"{c}"' for c in columns)
    many = (
        f"with repeated as (select {batch}, {keys}, count(*) as copies from {{batch}}"
        f" group by {batch}, {keys} having count(*) > 1),"
        f" repeated_rows as (select {batch}, sum(copies) as copies from repeated group by {batch}),"
        f" batch_rows as (select {batch}, count(*) as n_rows from {{batch}} group by {batch})"
        f" select repeated.* from repeated join repeated_rows using ({batch}) join batch_rows using ({batch})"
        f" where repeated_rows.copies > greatest({MANY_ROWS}, {1 - MOSTLY_UNIQUE} * batch_rows.n_rows)"
    )
    # A row whose key is missing is not a repeat (GX skips nulls in the one-column expectation this replaces).
    ignore = "any_value_is_missing" if len(columns) == 1 else "all_values_are_missing"
    strict = ex.ExpectCompoundColumnsToBeUnique(
        column_list=[BATCH_COLUMN, *columns], ignore_row_if=ignore, description="Each key once in the batch"
    )
    return [
        Check(
            ex.UnexpectedRowsExpectation(
                description="Few rows share a key within the batch", unexpected_rows_query=many
            )
        ),
        Check(strict, severity="warning"),
    ]


def earliest_date() -> date:
    """The plausibility floor (TEALEAVES_EARLIEST_DATE, default 1900-01-01): real history reaches back decades."""
    return get_settings().earliest_date


def epoch_is_plausible(column: str) -> list[Check]:
    """Unix seconds from the plausibility floor to a day after now, and never Unix time zero.

    Milliseconds land far in the future and show up at once; a zero (an unset field exported as 0) is
    1970-01-01T00:00:00Z, which the floor alone would let through for a history that reaches back that far.
    """
    floor = int(datetime.combine(earliest_date(), time(), UTC).timestamp())
    latest = int(datetime.now(UTC).timestamp()) + 86_400
    ex = gx.expectations
    return [
        Check(
            ex.ExpectColumnValuesToBeBetween(
                column=column,
                min_value=floor,
                max_value=latest,
                description=f"{column} is a plausible time ({earliest_date()} to tomorrow, Unix seconds)",
            )
        ),
        Check(
            ex.ExpectColumnValuesToNotBeInSet(
                column=column, value_set=[0], description=f"{column} is not Unix time zero (an unset time)"
            )
        ),
    ]


def date_is_on_or_after_floor(column: str, what: str) -> Check:
    """A calendar date no earlier than the plausibility floor (a 0001-01-01 or a mistyped century)."""
    return Check(
        gx.expectations.ExpectColumnValuesToBeBetween(
            column=column, min_value=earliest_date(), description=f"A plausible {what} (from {earliest_date()})"
        )
    )


def currency_code(column: str) -> Check:
    return Check(
        gx.expectations.ExpectColumnValuesToMatchRegex(
            column=column, regex=ISO_CURRENCY, description=f"{column} is a three-letter ISO 4217 code"
        )
    )


def one_of(column: str, allowed: list[str], what: str, key: str, severity: Severity = "blocking") -> Check:
    """`column` is one of `allowed`, whatever its case (exports differ in case; staging lower-cases).

    A `warning` lets the batch through with the rows flagged downstream, for a column whose unknown values the
    models can carry (a help-desk status tealeaves does not know is kept and counted as unsolved).
    """
    values = ", ".join(f"'{v}'" for v in allowed)
    return Check(
        gx.expectations.UnexpectedRowsExpectation(
            description=f"{column} is {what} ({', '.join(allowed)}), in any case",
            unexpected_rows_query=(
                f'select "{key}", "{column}" from {{batch}} where lower("{column}") not in ({values})'
            ),
        ),
        severity=severity,
    )
