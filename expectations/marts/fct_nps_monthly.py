"""Quality gate for `fct_nps_monthly`: NPS is bounded by definition, and the series has no missing month."""

import great_expectations as gx

from tealeaves.quality import Check
from tealeaves.quality.mart_suites import no_month_missing

TABLE = "fct_nps_monthly"
GRAIN = ("month", "segment")


def expectations() -> list[Check]:
    ex = gx.expectations
    return [
        Check(ex.ExpectCompoundColumnsToBeUnique(column_list=list(GRAIN), description="One row per month and segment")),
        Check(ex.ExpectColumnValuesToBeBetween(column="nps", min_value=-100, max_value=100, description="NPS in ±100")),
        Check(ex.ExpectColumnValuesToBeBetween(column="csat", min_value=0, max_value=1, description="CSAT in 0-100%")),
        Check(
            ex.UnexpectedRowsExpectation(
                description="Promoters, passives and detractors add up to the responses",
                unexpected_rows_query=(
                    "select month, segment from {batch} where promoters + passives + detractors <> nps_responses"
                ),
            )
        ),
        no_month_missing("segment = 'all'"),
    ]
