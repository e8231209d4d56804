"""Quality gate for `fct_customer_health_monthly`: the band counts a health dashboard charts.

Blocking: a repeated month, segment and band; segments that do not add up to the whole book; and a month whose
customers or MRR across the bands differ from fct_revenue_retention_monthly's paying customers and closing MRR
at the month-end, the same book counted through the MRR bridge: a band lost or counted twice shows there.
"""

import great_expectations as gx

from tealeaves.quality import Check

TABLE = "fct_customer_health_monthly"
GRAIN = ("month", "segment", "health_band")


def expectations() -> list[Check]:
    ex = gx.expectations
    return [
        Check(
            ex.ExpectCompoundColumnsToBeUnique(
                column_list=list(GRAIN), description="One row per month, segment and health band"
            )
        ),
        Check(
            ex.UnexpectedRowsExpectation(
                description="The segments' customers and MRR add up to the whole book's, per month and band",
                unexpected_rows_query=(
                    "select b.month, b.health_band from (select * from {batch}) as b"
                    " left join (select month, health_band, sum(customers) as customers, sum(mrr_usd) as mrr_usd"
                    " from {batch} where segment <> 'all' group by month, health_band) as s"
                    " on s.month = b.month and s.health_band = b.health_band"
                    " where b.segment = 'all' and (b.customers <> coalesce(s.customers, 0)"
                    " or abs(b.mrr_usd - coalesce(s.mrr_usd, 0)) >= 0.01)"
                ),
            )
        ),
        Check(
            ex.UnexpectedRowsExpectation(
                description=(
                    "Each month's customers and MRR across the bands equal fct_revenue_retention_monthly's"
                    " customers at the end and closing MRR"
                ),
                unexpected_rows_query=(
                    "select coalesce(h.month, r.month) as month, h.customers, r.customers_at_end"
                    " from (select month, sum(customers) as customers, sum(mrr_usd) as mrr_usd"
                    " from {batch} where segment = 'all' group by month) as h"
                    " full join (select month, customers_at_end, closing_mrr"
                    " from {schema}.fct_revenue_retention_monthly where segment = 'all' and customers_at_end > 0) as r"
                    " on r.month = h.month"
                    " where coalesce(h.customers, 0) <> coalesce(r.customers_at_end, 0)"
                    " or abs(coalesce(h.mrr_usd, 0) - coalesce(r.closing_mrr, 0)) >= 0.01"
                ),
            )
        ),
    ]
