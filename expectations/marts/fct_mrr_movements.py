"""Quality gate for `fct_mrr_movements`: one row per customer and month, each balancing its own bridge."""

import great_expectations as gx

from tealeaves.quality import Check
from tealeaves.quality.mart_suites import grain_held_by_unique_index

TABLE = "fct_mrr_movements"
GRAIN = ("customer_key", "month")


def expectations() -> list[Check]:
    ex = gx.expectations
    movements = ("new_mrr", "reactivation_mrr", "expansion_mrr", "contraction_mrr", "churned_mrr")
    return [
        grain_held_by_unique_index(TABLE, GRAIN, "One row per customer-month, held by a unique index"),
        *(
            Check(ex.ExpectColumnValuesToBeBetween(column=c, min_value=0, description=f"{c} is never negative"))
            for c in (*movements, "opening_mrr", "closing_mrr")
        ),
        Check(
            ex.UnexpectedRowsExpectation(
                description="Each customer-month's movements explain its change in MRR",
                unexpected_rows_query=(
                    "select customer_key, month, opening_mrr, closing_mrr, movement_type from {batch}"
                    " where abs(opening_mrr + new_mrr + reactivation_mrr + expansion_mrr - contraction_mrr"
                    " - churned_mrr - closing_mrr) >= 0.01"
                ),
            )
        ),
    ]
