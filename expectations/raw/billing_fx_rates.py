"""FX rates, per batch: every non-USD amount is multiplied by one of these."""

import great_expectations as gx

from tealeaves.quality import Check
from tealeaves.quality.raw_suites import currency_code, key_is_unique

TABLE = "billing_fx_rates"
GRAIN = ("rate_date", "currency")


def expectations() -> list[Check]:
    ex = gx.expectations
    return [
        *key_is_unique(["rate_date", "currency"]),
        currency_code("currency"),
        Check(
            ex.ExpectColumnValuesToBeBetween(
                column="rate_to_usd", min_value=0.0001, max_value=10_000, description="A rate is positive and sane"
            )
        ),
    ]
