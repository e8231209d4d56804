"""Stream synthetic CRM and billing exports to disk, one customer's whole life at a time.

Each customer's invoices are written when the customer is drawn, so memory stays constant however many
customers are asked for. A seed fixes every byte of the output.
"""

from __future__ import annotations

import csv
import json
import random
import string
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from faker import Faker

from tealeaves.generate.world import Segment, Truth, default_truth

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
ALPHABET = string.ascii_letters + string.digits


@dataclass
class Counts:
    companies: int = 0
    customers: int = 0
    invoices: int = 0
    spend_rows: int = 0


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    return date(day.year + month_index // 12, month_index % 12 + 1, min(day.day, 28))


def _days(start: date, end: date) -> Iterator[date]:
    day = start
    while day < end:
        yield day
        day += timedelta(days=1)


class _Ids:
    """Ids shaped like each system's: numeric HubSpot record ids, prefixed random Stripe ids."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.next_company = 9_000_000_000

    def company(self) -> int:
        self.next_company += self.rng.randint(1, 97)
        return self.next_company

    def stripe(self, prefix: str) -> str:
        return prefix + "_" + "".join(self.rng.choices(ALPHABET, k=14))


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _hubspot_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class _World:
    def __init__(self, truth: Truth, seed: int, start: date, end: date, writers: dict) -> None:
        self.truth, self.start, self.end = truth, start, end
        self.rng = random.Random(seed)
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self.ids = _Ids(self.rng)
        self.w = writers
        self.counts = Counts()

    def _poisson(self, mean: float) -> int:
        # Knuth's method is exact and fast for the small daily means used here.
        limit, k, p = pow(2.718281828459045, -mean), 0, self.rng.random()
        while p > limit:
            k += 1
            p *= self.rng.random()
        return k

    def _segment(self) -> Segment:
        return self.rng.choices(self.truth.segments, weights=[s.share for s in self.truth.segments])[0]

    def day(self, day: date) -> None:
        for channel in self.truth.channels:
            if channel.daily_spend:
                spend = channel.daily_spend * (1 + self.rng.uniform(-1, 1) * self.truth.spend_noise)
                self.w["spend"].writerow(
                    [
                        day.isoformat(),
                        channel.name,
                        f"cmp_{channel.name.lower()}",
                        f"{spend:.2f}",
                        self.truth.currency.upper(),
                    ]
                )
                self.counts.spend_rows += 1
                arrivals = self._poisson(spend / channel.true_cac)
            else:
                arrivals = self._poisson(channel.organic_daily_customers)
            for _ in range(arrivals):
                self.customer(day, channel.name)
            for _ in range(self._poisson(arrivals * self.truth.leads_per_customer)):
                self.company(day, channel.name, self._segment(), "lead")

    def company(self, day: date, channel: str, segment: Segment, stage: str) -> tuple[int, str, str]:
        company_id = self.ids.company()
        name = self.fake.company()
        # Unique without remembering every domain: the record id's tail keeps memory constant.
        slug = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-").replace("--", "-")
        domain = f"{slug[:30].rstrip('-')}-{company_id % 100_000:05d}.{self.rng.choice(('com', 'io', 'co'))}"
        created = datetime.combine(day, time(), UTC) - timedelta(
            days=self.rng.randint(0, 45), seconds=self.rng.randint(0, 86_399)
        )
        self.w["companies"].writerow(
            [
                company_id,
                name,
                domain,
                _hubspot_time(created),
                stage,
                channel,
                self.fake.bs().split()[-1],
                self.rng.randint(*segment.employees),
                self.fake.country_code(),
            ]
        )
        self.counts.companies += 1
        return company_id, name, domain

    def customer(self, day: date, channel: str) -> None:
        segment = self._segment()
        company_id, name, domain = self.company(day, channel, segment, "customer")
        signed = datetime.combine(day, time(), UTC) + timedelta(seconds=self.rng.randint(8 * 3600, 20 * 3600))
        customer_id, subscription_id = self.ids.stripe("cus"), self.ids.stripe("sub")
        self.w["customers"].write(
            json.dumps(
                {
                    "id": customer_id,
                    "object": "customer",
                    "email": f"billing@{domain}",
                    "name": name,
                    "created": _epoch(signed),
                    "currency": self.truth.currency,
                    "metadata": {"hubspot_company_id": str(company_id)},
                }
            )
            + "\n"
        )
        self.counts.customers += 1
        mrr_cents = round(self.rng.uniform(*segment.mrr)) * 100
        period = 0
        while True:
            period_start = signed if period == 0 else datetime.combine(add_months(day, period), time(hour=6), UTC)
            if period_start.date() >= self.end:
                break
            paid = period == 0 or self.rng.random() >= self.truth.invoice_failure_rate
            self.w["invoices"].write(
                json.dumps(
                    {
                        "id": self.ids.stripe("in"),
                        "object": "invoice",
                        "customer": customer_id,
                        "subscription": subscription_id,
                        "status": "paid" if paid else "open",
                        "billing_reason": "subscription_create" if period == 0 else "subscription_cycle",
                        "currency": self.truth.currency,
                        "amount_due": mrr_cents,
                        "amount_paid": mrr_cents if paid else 0,
                        "created": _epoch(period_start),
                        "period_start": _epoch(period_start),
                        "period_end": _epoch(datetime.combine(add_months(day, period + 1), time(hour=6), UTC)),
                    }
                )
                + "\n"
            )
            self.counts.invoices += 1
            period += 1
            if self.rng.random() < segment.monthly_churn:
                break


def generate(
    out: Path,
    customers: int = 1000,
    start: date = date(2025, 1, 1),
    months: int = 12,
    seed: int = 42,
    truth: Truth | None = None,
) -> Counts:
    """Write crm/ and billing/ exports plus truth.json under `out`; returns what was written."""
    end = add_months(start.replace(day=1), months)
    days = (end - start).days
    truth = (truth or default_truth()).scaled(customers, days)
    (out / "crm").mkdir(parents=True, exist_ok=True)
    (out / "billing").mkdir(parents=True, exist_ok=True)
    with ExitStack() as files:

        def open_(path: str):
            return files.enter_context(open(out / path, "w", newline="", encoding="utf-8"))

        companies, spend = csv.writer(open_("crm/companies.csv")), csv.writer(open_("crm/marketing_spend.csv"))
        companies.writerow(COMPANY_COLUMNS)
        spend.writerow(SPEND_COLUMNS)
        writers = {
            "companies": companies,
            "spend": spend,
            "customers": open_("billing/customers.jsonl"),
            "invoices": open_("billing/invoices.jsonl"),
        }
        world = _World(truth, seed, start, end, writers)
        for day in _days(start, end):
            world.day(day)
    (out / "truth.json").write_text(
        json.dumps(
            {
                "seed": seed,
                "start": start.isoformat(),
                "end": end.isoformat(),
                "requested_customers": customers,
                **world.counts.__dict__,
                "truth": truth.as_dict(),
            },
            indent=2,
        )
    )
    return world.counts
