"""Quality gate for `fct_acquisition_cost`: one row per month x channel; spend (USD), new customers and CAC.

Finance reads CAC straight off this table, so everything that would make it wrong blocks publishing: a
repeated month and channel (double-counted spend), a missing or negative amount, a CAC that is not spend
divided by new customers. A CAC that is merely huge only warns: a tiny channel can have a genuinely bad
month, but it is also what cents loaded as dollars look like.
"""

import great_expectations as gx

from tealeaves.quality import Check

TABLE = "fct_acquisition_cost"
GRAIN = ("month", "channel")

# Above this a CAC (USD per new customer) is more likely a unit or join error than a real month.
IMPLAUSIBLE_CAC_USD = 100_000


def expectations() -> list[Check]:
    ex = gx.expectations
    return [
        Check(ex.ExpectTableRowCountToBeBetween(min_value=1, description="The mart is not empty"), needs_inputs=True),
        Check(ex.ExpectCompoundColumnsToBeUnique(column_list=list(GRAIN), description="One row per month and channel")),
        *(
            Check(ex.ExpectColumnValuesToNotBeNull(column=column))
            for column in ("month", "channel", "spend", "new_customers")
        ),
        Check(ex.ExpectColumnValuesToBeBetween(column="spend", min_value=0, description="Spend is never negative")),
        Check(
            ex.ExpectColumnValuesToBeBetween(
                column="new_customers", min_value=0, description="New customers are never negative"
            )
        ),
        # GX's column-value expectations skip nulls, and cac is null when a channel won nobody.
        Check(ex.ExpectColumnValuesToBeBetween(column="cac", min_value=0, description="CAC is never negative")),
        Check(
            ex.UnexpectedRowsExpectation(
                description="CAC is spend / new customers to the cent, set exactly when there are new customers",
                # Organic channels (no spend) get CAC 0.00, as the dbt unit test on this model pins down.
                unexpected_rows_query=(
                    "select month, channel, spend, new_customers, cac from {batch}"
                    " where (new_customers = 0) <> (cac is null)"
                    " or abs(cac - spend / nullif(new_customers, 0)) >= 0.01"
                ),
            )
        ),
        Check(
            ex.ExpectColumnValuesToBeBetween(
                column="cac",
                max_value=IMPLAUSIBLE_CAC_USD,
                description=f"CAC is at most {IMPLAUSIBLE_CAC_USD:,} USD per new customer",
            ),
            severity="warning",
        ),
    ]
