"""Quality gate for `fct_support_tickets`: SLA attainment is computed from it, so a ticket counted twice or a
negative duration (a reply before the ticket existed: a time-zone error upstream) blocks publishing."""

import great_expectations as gx

from tealeaves.quality import Check
from tealeaves.quality.mart_suites import grain_held_by_unique_index

TABLE = "fct_support_tickets"
GRAIN = ("ticket_id",)


def expectations() -> list[Check]:
    ex = gx.expectations
    return [
        grain_held_by_unique_index(TABLE, GRAIN, "One row per ticket, held by a unique index"),
        *(
            Check(ex.ExpectColumnValuesToBeBetween(column=c, min_value=0, description=f"{c} is never negative"))
            for c in (
                "first_reply_calendar_minutes",
                "first_reply_business_minutes",
                "full_resolution_calendar_minutes",
            )
        ),
        Check(
            ex.ExpectColumnValuesToNotBeNull(
                column="customer_key", mostly=0.9, description="Nine in ten tickets are tied to a known customer"
            ),
            severity="warning",
        ),
    ]
