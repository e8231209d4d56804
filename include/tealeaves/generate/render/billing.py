"""Stripe-shaped billing exports: customers, invoices (JSON Lines as the API returns them) and an FX table."""

from __future__ import annotations

import string
from datetime import date, timedelta
from pathlib import Path

from tealeaves.generate.life import Life
from tealeaves.generate.render.base import Renderer
from tealeaves.generate.world import Truth

ALPHABET = string.ascii_letters + string.digits
UNKNOWN_CURRENCY = "chf"  # not in the FX table: such invoices must be flagged, not summed


class BillingRenderer(Renderer):
    source = "billing"

    def __init__(self, root: Path, truth: Truth, seed: int) -> None:
        super().__init__(root, truth, seed)
        self.customers = self.jsonl("customers.jsonl", key="id", cosmetic=("name",))
        self.invoices = self.jsonl("invoices.jsonl", key="id", cosmetic=("status", "billing_reason"))
        self.fx = self.csv("fx_rates.csv", ["rate_date", "currency", "rate_to_usd"], key=None, cosmetic=("currency",))
        self.extra_counts = {"unknown_currency": 0, "billing_without_crm_id": 0}

    def planted(self) -> dict[str, int]:
        return dict(self.extra_counts)

    def stripe_id(self, prefix: str) -> str:
        return prefix + "_" + "".join(self.rng.choices(ALPHABET, k=14))

    def day(self, day: date) -> None:
        for code, _, rate in self.truth.billing.currencies:
            if code != self.truth.currency:
                self.fx.write({"rate_date": day.isoformat(), "currency": code.upper(), "rate_to_usd": f"{rate:.6f}"})

    def customer(self, life: Life) -> None:
        dirt = self.truth.dirt
        customer_id, subscription_id = self.stripe_id("cus"), self.stripe_id("sub")
        metadata = {"hubspot_company_id": str(life.company_id)}
        if self.rng.random() < dirt.billing_without_crm_id:
            metadata = {}
            self.extra_counts["billing_without_crm_id"] += 1
        self.customers.write(
            {
                "id": customer_id,
                "object": "customer",
                "email": life.contacts[0].email,
                "name": life.name,
                "created": int(life.signed_at.timestamp()),
                "currency": life.currency,
                "metadata": metadata,
            }
        )
        for period in life.periods:
            months = 12 if life.annual else 1
            amount = round(period.mrr_usd * (10 if life.annual else 1) / life.fx_to_usd * 100)
            self.invoices.write(
                {
                    "id": self.stripe_id("in"),
                    "object": "invoice",
                    "customer": customer_id,
                    "subscription": subscription_id,
                    "status": "paid" if period.paid else "open",
                    "billing_reason": "subscription_create" if period.number == 0 else "subscription_cycle",
                    "currency": life.currency,
                    "amount_due": amount,
                    "amount_paid": amount if period.paid else 0,
                    "created": int(period.start.timestamp()),
                    "period_start": int(period.start.timestamp()),
                    "period_end": int(period.end.timestamp()),
                    "lines": {
                        "data": [
                            {
                                "description": f"{life.segment.name} plan ({'annual' if months == 12 else 'monthly'})",
                                "amount": amount,
                                "quantity": 1,
                            }
                        ]
                    },
                }
            )
            if self.rng.random() < dirt.unknown_currency:
                self.invoices.write(
                    {
                        "id": self.stripe_id("in"),
                        "object": "invoice",
                        "customer": customer_id,
                        "subscription": None,
                        "status": "paid",
                        "billing_reason": "manual",
                        "currency": UNKNOWN_CURRENCY,
                        "amount_due": 5000,
                        "amount_paid": 5000,
                        "created": int((period.start + timedelta(days=3)).timestamp()),
                        "period_start": None,
                        "period_end": None,
                    }
                )
                self.extra_counts["unknown_currency"] += 1
