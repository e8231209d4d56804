"""HubSpot-shaped CRM exports: companies (with lead source) and daily marketing spend per channel."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from tealeaves.generate.life import Life
from tealeaves.generate.render.base import Renderer
from tealeaves.generate.world import Truth

COMPANY_COLUMNS = [
    "hs_object_id",
    "name",
    "domain",
    "createdate",
    "lifecyclestage",
    "hs_analytics_source",
    "industry",
    "numberofemployees",
    "country",
]
SPEND_COLUMNS = ["spend_date", "channel", "campaign_id", "spend", "currency"]


class CrmRenderer(Renderer):
    source = "crm"

    def __init__(self, root: Path, truth: Truth, seed: int) -> None:
        super().__init__(root, truth, seed)
        self.companies = self.csv("companies.csv", COMPANY_COLUMNS, key="hs_object_id", cosmetic=("name", "industry"))
        self.spend = self.csv("marketing_spend.csv", SPEND_COLUMNS, key=None, cosmetic=("channel", "campaign_id"))
        self.daily_spend: dict[str, float] = {}

    def record_spend(self, day: date, channel: str, amount: float) -> None:
        self.spend.write(
            {
                "spend_date": day.isoformat(),
                "channel": channel,
                "campaign_id": f"cmp_{channel.lower()}",
                "spend": f"{amount:.2f}",
                "currency": self.truth.currency.upper(),
            }
        )

    def lead(self, company: dict[str, Any]) -> None:
        self.companies.write({**company, "createdate": self.iso(company["createdate"], millis=True)})

    def customer(self, life: Life) -> None:
        self.companies.write(
            {
                "hs_object_id": life.company_id,
                "name": life.name,
                "domain": life.domain,
                "createdate": self.iso(life.crm_created_at, millis=True),
                "lifecyclestage": "customer",
                "hs_analytics_source": life.channel,
                "industry": life.industry,
                "numberofemployees": life.employees,
                "country": life.country,
            }
        )
