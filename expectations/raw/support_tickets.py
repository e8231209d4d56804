"""Zendesk tickets, per batch: support load and every SLA is computed from them.

A status outside Zendesk's own is a warning, not a held-back batch: staging keeps the ticket and flags it
(stg_support__tickets.is_known_status), the marts count it as unsolved. Deleted tickets are a Zendesk status
(the incremental export returns them); the marts leave them out.
"""

from tealeaves.quality import Check
from tealeaves.quality.raw_suites import key_is_unique, one_of

TABLE = "support_tickets"
GRAIN = ("id",)
STATUSES = ["new", "open", "pending", "hold", "solved", "closed", "deleted"]
PRIORITIES = ["urgent", "high", "normal", "low"]


def expectations() -> list[Check]:
    return [
        *key_is_unique(["id"]),
        one_of("status", STATUSES, "a Zendesk ticket status", key="id", severity="warning"),
        one_of("priority", PRIORITIES, "a Zendesk priority", key="id"),
    ]
