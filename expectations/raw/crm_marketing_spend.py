"""Daily marketing spend, per batch: the numerator of every CAC."""

import great_expectations as gx

from tealeaves.quality import Check
from tealeaves.quality.raw_suites import currency_code, date_is_on_or_after_floor, key_is_unique

TABLE = "crm_marketing_spend"
GRAIN = ("spend_date", "channel", "campaign_id")


def expectations() -> list[Check]:
    ex = gx.expectations
    return [
        *key_is_unique(list(GRAIN)),
        Check(ex.ExpectColumnValuesToBeBetween(column="spend", min_value=0, description="Spend is never negative")),
        date_is_on_or_after_floor("spend_date", "spend date"),
        currency_code("currency"),
    ]
