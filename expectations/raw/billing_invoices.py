"""Stripe invoices, per batch: what finance's revenue is summed from.

Negative amounts and unknown statuses never occur in a Stripe export; when they appear the file was edited or
produced by something else, and revenue built from it would be wrong.
"""

import great_expectations as gx

from tealeaves.quality import Check
from tealeaves.quality.raw_suites import currency_code, epoch_is_plausible, key_is_unique, one_of

TABLE = "billing_invoices"
GRAIN = ("id",)
STATUSES = ["draft", "open", "paid", "uncollectible", "void"]
IMPLAUSIBLE_MINOR_UNITS = 10_000_000_00  # ten million in major units on one invoice


def expectations() -> list[Check]:
    ex = gx.expectations
    return [
        *key_is_unique(["id"]),
        Check(ex.ExpectColumnValuesToBeBetween(column="amount_due", min_value=0, description="No negative amount due")),
        Check(
            ex.ExpectColumnValuesToBeBetween(column="amount_paid", min_value=0, description="No negative amount paid")
        ),
        Check(
            ex.ExpectColumnValuesToBeBetween(
                column="amount_due", max_value=IMPLAUSIBLE_MINOR_UNITS, description="No invoice over ten million"
            ),
            severity="warning",
        ),
        one_of("status", STATUSES, "a Stripe invoice status", key="id"),
        currency_code("currency"),
        *epoch_is_plausible("created"),
    ]
