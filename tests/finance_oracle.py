"""Reading the finance exports straight: the retention cost components per month, in USD.

Recomputed from the billing export files (coupons, invoices, credit notes, FX rates) as the loader would accept
them, never from staging or mart SQL.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from tealeaves.generate.sinks import LATE_SUFFIX
from tests.exports import read_jsonl

CENT = Decimal("0.01")


def month_of(moment: datetime | date) -> date:
    return date(moment.year, moment.month, 1)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def norm(text: str | None) -> str:
    """A code as staging reads it: a second export may spell it in other case or with spaces around it."""
    return (text or "").strip().lower()


def export_files(folder: Path, name: str) -> list[Path]:
    """An export and its late delivery, in load order (the late file is loaded last, so it wins)."""
    stem, dot, ext = name.rpartition(".")
    return [p for p in (folder / name, folder / f"{stem}{LATE_SUFFIX}{dot}{ext}") if p.exists()]


def csv_records(folder: Path, name: str, required: tuple[str, ...]) -> Iterator[dict[str, str]]:
    """Rows of a CSV export; a truncated row (a required field missing) is skipped, as the loader rejects it."""
    for path in export_files(folder, name):
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                if all(row.get(field) not in (None, "") for field in required):
                    yield row


class FxTable:
    """USD per unit of a currency at a day's rate, or the latest earlier one (as int_invoices_converted)."""

    def __init__(self, exports: Path) -> None:
        self.rates: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
        latest: dict[tuple[date, str], Decimal] = {}
        for row in csv_records(exports / "billing", "fx_rates.csv", ("rate_date", "currency", "rate_to_usd")):
            latest[(date.fromisoformat(row["rate_date"]), row["currency"].strip().upper())] = Decimal(
                row["rate_to_usd"]
            )
        for (day, currency), rate in sorted(latest.items()):
            self.rates[currency].append((day, rate))

    def rate(self, currency: str, day: date) -> Decimal:
        currency = currency.strip().upper()
        if currency == "USD":
            return Decimal(1)
        earlier = [rate for rate_day, rate in self.rates[currency] if rate_day <= day]
        assert earlier, f"no {currency} rate on or before {day}"
        return earlier[-1]


def retention_components_from_exports(exports: Path) -> tuple[dict[date, Decimal], dict[date, Decimal]]:
    """(retention discounts, service credits) per month, USD, from coupons, invoices and credit notes."""
    billing, fx = exports / "billing", FxTable(exports)
    retention_coupons = {
        coupon_id
        for coupon_id, coupon in read_jsonl(billing, "coupons").items()
        if norm((coupon.get("metadata") or {}).get("purpose")) == "retention"
    }
    invoices = read_jsonl(billing, "invoices")
    invoice_rate = {
        invoice_id: fx.rate(invoice["currency"], datetime.fromtimestamp(invoice["created"], UTC).date())
        for invoice_id, invoice in invoices.items()
        if invoice["currency"].strip().upper() in {"USD", *fx.rates}
    }
    discounts: dict[date, Decimal] = defaultdict(Decimal)
    for invoice_id, invoice in invoices.items():
        coupon = ((invoice.get("discount") or {}).get("coupon") or {}).get("id")
        if coupon in retention_coupons and norm(invoice["status"]) in ("open", "paid"):
            amount = Decimal(sum(d["amount"] for d in invoice["total_discount_amounts"][:1])) / 100
            discounts[month_of(datetime.fromtimestamp(invoice["created"], UTC))] += cents(
                amount * invoice_rate[invoice_id]
            )
    credits: dict[date, Decimal] = defaultdict(Decimal)
    for note in read_jsonl(billing, "credit_notes").values():
        purpose = norm((note.get("metadata") or {}).get("purpose"))
        if purpose == "service_credit" and norm(note["status"]) == "issued":
            amount = Decimal(note["amount"]) / 100
            credits[month_of(datetime.fromtimestamp(note["created"], UTC))] += cents(
                amount * invoice_rate[note["invoice"]]
            )
    return discounts, credits
