"""Quality gate for `fct_revenue_retention_monthly`: the MRR bridge and retention ratios finance reports.

Blocking: a repeated month and segment, a bridge that does not add up, a month missing from the series, a GRR
above 100% (impossible by definition), and an MRR total that disagrees with the customer-level movements it
summarises. NRR outside 50-200% in a month only warns: possible for a tiny book, but worth a look.
"""

import great_expectations as gx

from tealeaves.quality import Check
from tealeaves.quality.mart_suites import no_month_missing

TABLE = "fct_revenue_retention_monthly"
GRAIN = ("month", "segment")


def expectations() -> list[Check]:
    ex = gx.expectations
    return [
        Check(ex.ExpectTableRowCountToBeBetween(min_value=1, description="The mart is not empty"), needs_inputs=True),
        Check(ex.ExpectCompoundColumnsToBeUnique(column_list=list(GRAIN), description="One row per month and segment")),
        Check(
            ex.ExpectColumnValuesToBeBetween(
                column="gross_revenue_retention", min_value=0, max_value=1, description="GRR is between 0 and 100%"
            )
        ),
        Check(
            ex.ExpectColumnValuesToBeBetween(
                column="logo_churn_rate", min_value=0, max_value=1, description="Logo churn is between 0 and 100%"
            )
        ),
        Check(
            ex.ExpectColumnValuesToBeBetween(
                column="net_revenue_retention", min_value=0.5, max_value=2, description="NRR within 50-200%"
            ),
            severity="warning",
        ),
        Check(
            ex.UnexpectedRowsExpectation(
                description="Opening + new + reactivation + expansion - contraction - churn = closing, every row",
                unexpected_rows_query=(
                    "select month, segment, opening_mrr, closing_mrr from {batch}"
                    " where abs(opening_mrr + new_mrr + reactivation_mrr + expansion_mrr - contraction_mrr"
                    " - churned_mrr - closing_mrr) >= 0.01"
                ),
            )
        ),
        no_month_missing("segment = 'all'"),
        Check(
            ex.UnexpectedRowsExpectation(
                description="Closing MRR equals the sum of the customer-level closing MRR in fct_mrr_movements",
                unexpected_rows_query=(
                    "select r.month, r.closing_mrr, m.closing_mrr as customer_level from (select * from {batch}) as r"
                    " join (select month, sum(closing_mrr) as closing_mrr from {schema}.fct_mrr_movements"
                    " group by month) as m on m.month = r.month"
                    " where r.segment = 'all' and abs(r.closing_mrr - m.closing_mrr) >= 0.01"
                ),
            )
        ),
    ]
