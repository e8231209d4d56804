"""Quality gate for the spend behind `fct_acquisition_cost`: no day missing from a paid channel's spend.

A day whose spend report never arrived understates that month's CAC for the channel, silently. The mart holds
monthly sums, so the check looks through it to the daily rows staging keeps (all deliveries, late ones included):
every month with spend must have a row for each day between the channel's first and last day of spend.
"""

import great_expectations as gx

from tealeaves.quality import Check

TABLE = "fct_acquisition_cost"
GRAIN = ("month", "channel")

_MISSING_DAYS = """
select cost.month, cost.channel, day::date as missing_day
from (select * from {batch}) as cost
join (select channel, min(spend_date) as first_day, max(spend_date) as last_day
      from staging.stg_crm__marketing_spend group by channel) as span on span.channel = cost.channel
cross join lateral generate_series(
    greatest(cost.month, span.first_day), least((cost.month + interval '1 month - 1 day')::date, span.last_day),
    interval '1 day'
) as day
where cost.spend > 0
  and not exists (
      select from staging.stg_crm__marketing_spend as daily
      where daily.channel = cost.channel and daily.spend_date = day::date
  )
"""


def expectations() -> list[Check]:
    return [
        Check(
            gx.expectations.UnexpectedRowsExpectation(
                description="No day missing from a paid channel's spend", unexpected_rows_query=_MISSING_DAYS
            )
        )
    ]
