"""Quality gate for `dim_customers`: one row per customer, and the same new customers finance counts in
`fct_acquisition_cost` (a customer lost or counted twice between the two would make CAC and LTV disagree)."""

import great_expectations as gx

from tealeaves.quality import Check
from tealeaves.quality.mart_suites import grain_held_by_unique_index

TABLE = "dim_customers"
GRAIN = ("customer_key",)

_ACQUISITION_MISMATCH = """
with by_dimension as (
    select cohort_month as month, acquisition_channel as channel, count(*) as customers
    from {batch} group by 1, 2
),
by_fact as (
    select month, channel, sum(new_customers) as customers
    from {schema}.fct_acquisition_cost where new_customers > 0 group by 1, 2
)
select coalesce(d.month, f.month) as month, coalesce(d.channel, f.channel) as channel,
       d.customers as in_dim_customers, f.customers as in_fct_acquisition_cost
from by_dimension as d
full join by_fact as f on d.month = f.month and d.channel = f.channel
where d.customers is distinct from f.customers
"""


def expectations() -> list[Check]:
    ex = gx.expectations
    return [
        grain_held_by_unique_index(TABLE, GRAIN, "One row per customer, held by a unique index"),
        Check(
            ex.ExpectColumnValuesToBeInSet(
                column="customer_status", value_set=["active", "churned"], description="A known status"
            )
        ),
        Check(
            ex.UnexpectedRowsExpectation(
                description="New customers per month and channel equal fct_acquisition_cost's",
                unexpected_rows_query=_ACQUISITION_MISMATCH,
            )
        ),
    ]
