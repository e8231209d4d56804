"""Expectations several mart suites share, written once (the raw suites' helpers are in `raw_suites`)."""

from __future__ import annotations

import great_expectations as gx

from tealeaves.quality.checks import Check


def no_month_missing(series: str) -> Check:
    """Every month between the first and the last has a row matching `series` (a SQL condition on the row):
    a chart of a monthly series with a silent gap reads as a month of zero."""
    return Check(
        gx.expectations.UnexpectedRowsExpectation(
            description="No month missing from the series",
            unexpected_rows_query=(
                "select gap.month from (select generate_series(min(month), max(month), interval '1 month')::date"
                " as month from {batch}) as gap"
                " where not exists (select from (select * from {batch}) as r"
                f" where r.month = gap.month and r.{series})"
            ),
        )
    )
