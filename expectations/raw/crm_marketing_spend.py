"""Daily marketing spend, per batch: the numerator of every CAC."""

from datetime import date

import great_expectations as gx

from tealeaves.quality import Check
from tealeaves.quality.raw_suites import currency_code, key_is_unique

TABLE = "crm_marketing_spend"
GRAIN = ("spend_date", "channel", "campaign_id")


def expectations() -> list[Check]:
    ex = gx.expectations
    return [
        *key_is_unique(list(GRAIN)),
        Check(ex.ExpectColumnValuesToBeBetween(column="spend", min_value=0, description="Spend is never negative")),
        Check(
            ex.ExpectColumnValuesToBeBetween(
                column="spend_date", min_value=date(2000, 1, 1), description="A plausible spend date"
            )
        ),
        currency_code("currency"),
    ]
