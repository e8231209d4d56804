"""Quality gate for `fct_cohort_retention`: the retention curves. A cohort cannot keep more customers than it
started with, and every cohort starts at 100%."""

import great_expectations as gx

from tealeaves.quality import Check

TABLE = "fct_cohort_retention"
GRAIN = ("cohort_month", "months_since_start")


def expectations() -> list[Check]:
    ex = gx.expectations
    return [
        Check(ex.ExpectCompoundColumnsToBeUnique(column_list=list(GRAIN), description="One row per cohort and age")),
        Check(
            ex.ExpectColumnValuesToBeBetween(
                column="logo_retention", min_value=0, max_value=1, description="Logo retention is at most 100%"
            )
        ),
        Check(
            ex.UnexpectedRowsExpectation(
                description="Every cohort starts with all its customers",
                unexpected_rows_query=(
                    "select cohort_month, retained_customers, cohort_customers from {batch}"
                    " where months_since_start = 0 and retained_customers <> cohort_customers"
                ),
            )
        ),
    ]
