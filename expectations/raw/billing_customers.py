"""Stripe customers, per batch: every paying customer starts here."""

from tealeaves.quality import Check
from tealeaves.quality.raw_suites import epoch_is_plausible, key_is_unique

TABLE = "billing_customers"
GRAIN = ("id",)


def expectations() -> list[Check]:
    return [*key_is_unique(["id"]), *epoch_is_plausible("created")]
