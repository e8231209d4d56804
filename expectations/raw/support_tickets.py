"""Zendesk tickets, per batch: support load and every SLA is computed from them."""

from tealeaves.quality import Check
from tealeaves.quality.raw_suites import key_is_unique, one_of

TABLE = "support_tickets"
GRAIN = ("id",)
STATUSES = ["new", "open", "pending", "hold", "solved", "closed", "deleted"]
PRIORITIES = ["urgent", "high", "normal", "low"]


def expectations() -> list[Check]:
    return [
        *key_is_unique(["id"]),
        one_of("status", STATUSES, "a Zendesk ticket status", key="id"),
        one_of("priority", PRIORITIES, "a Zendesk priority", key="id"),
    ]
