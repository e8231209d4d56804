"""The CDNOW sample (README.md beside this file) as the Stripe-shaped billing exports of a one-off-purchase shop.

CDNOW sold CDs, one order at a time, with no subscription, no CRM and no help desk: the business the
predictive LTV models were published on (Fader, Hardie & Lee 2005). Written as billing exports it checks the
whole warehouse on data our generator did not write, against a published fit.

Each CDNOW customer becomes one billing customer (`cus_cdnow<sample id>`), each transaction one paid manual
invoice without a subscription, with one line (the CDs bought) and, when it cost anything, one succeeded card
charge, as `tealeaves.generate`'s one-off invoices are written (render/billing.py, `_paid_one_off`). Amounts
are USD cents; every time is the transaction day's midnight UTC (the data set has days, not times). A $0
transaction (8 of 6,919, each a customer's only purchase) is a paid $0 invoice and, as Stripe does, has no
charge. USD is the reporting currency, so no FX file is needed; the other billing files are absent, which
the warehouse reads as empty.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any, NamedTuple

from tealeaves import stripe

CALIBRATION_END = date(1997, 9, 30)  # end of week 39: the papers' calibration period
HOLDOUT_END = date(1998, 6, 30)  # end of week 78: the last day of the data
FILES = ("customers.jsonl", "invoices.jsonl", "invoice_line_items.jsonl", "charges.jsonl")
MARKER = ".tealeaves-sample.json"  # what this module wrote into a folder, so a rerun may overwrite it
SOURCE = "billing"


class CdnowTransaction(NamedTuple):
    """One line of CDNOW_sample.txt."""

    line: int  # 1-based line number in the file: the transaction's id
    master_id: str  # CDNOW's customer id in the full data set
    sample_id: int  # the customer's id in the 1/10th sample (1..2357), as in Hardie's summaries
    day: date
    cds: int
    dollars: Decimal


@dataclass(frozen=True)
class WrittenSample:
    """Where the exports went and how many records they hold."""

    folder: Path
    customers: int
    invoices: int
    through: date | None


class SampleFolderError(ValueError):
    """The folder holds files this module did not write; it never overwrites them."""


def data_file(name: str) -> Path:
    """A vendored file of this package (CDNOW_sample.txt, the summaries CSV, README.md, the licence)."""
    return Path(str(files(__name__).joinpath(name)))


def transactions() -> list[CdnowTransaction]:
    """The 6,919 transactions of the 2,357-customer sample, in file order."""
    rows = []
    with data_file("CDNOW_sample.txt").open() as handle:
        for number, text in enumerate(handle, start=1):
            master_id, sample_id, day, cds, dollars = text.split()
            when = datetime.strptime(day, "%Y%m%d").date()
            rows.append(CdnowTransaction(number, master_id, int(sample_id), when, int(cds), Decimal(dollars)))
    return rows


def write_billing_exports(out: Path, through: date | None = CALIBRATION_END) -> WrittenSample:
    """Write `out/billing/` with the transactions on or before `through` (all of them when None).

    The default keeps the papers' calibration data only (to 1997-09-30), so what the warehouse fits is what
    they fitted. A rerun into the same folder replaces what an earlier run wrote; any other file there (or
    one of ours since edited) makes it refuse with SampleFolderError before writing anything.
    """
    _check_folder(out)
    kept = [t for t in transactions() if through is None or t.day <= through]
    contents = {
        f"{SOURCE}/customers.jsonl": _jsonl(_customers(kept)),
        f"{SOURCE}/invoices.jsonl": _jsonl(_invoice(t) for t in kept),
        f"{SOURCE}/invoice_line_items.jsonl": _jsonl(_line(t) for t in kept),
        f"{SOURCE}/charges.jsonl": _jsonl(_charge(t) for t in kept if t.dollars > 0),
    }
    (out / SOURCE).mkdir(parents=True, exist_ok=True)
    for name, text in contents.items():
        (out / name).write_text(text, encoding="utf-8")
    marker = {
        "sample": "cdnow",
        "through": through.isoformat() if through else None,
        "files": {name: _sha256(text.encode()) for name, text in contents.items()},
    }
    (out / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    return WrittenSample(out / SOURCE, len({t.sample_id for t in kept}), len(kept), through)


def _check_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise SampleFolderError(f"{out} is a file; give a folder to write billing/ into")
    if not out.exists():
        return
    ours: dict[str, str] = {}
    if (out / MARKER).is_file():
        try:
            ours = json.loads((out / MARKER).read_text(encoding="utf-8"))["files"]
        except (ValueError, KeyError, TypeError):
            raise SampleFolderError(f"{out / MARKER} is not a marker this command wrote; use an empty folder") from None
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        name = path.relative_to(out).as_posix()
        if name == MARKER:
            continue
        if ours.get(name) != _sha256(path.read_bytes()):
            raise SampleFolderError(
                f"{out} already holds {name}, which `tealeaves sample cdnow` did not write (or it was changed "
                "since); nothing was written - give an empty or new folder"
            )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _jsonl(records: Iterator[dict[str, Any]] | list[dict[str, Any]]) -> str:
    return "".join(json.dumps(record, separators=(",", ":")) + "\n" for record in records)


def _epoch(day: date) -> int:
    return int(datetime.combine(day, time(), UTC).timestamp())


def _cents(dollars: Decimal) -> int:
    return int((dollars * 100).to_integral_value())


def _stripe_id(prefix: str, number: int) -> str:
    """Stripe-shaped (prefix, underscore, 14 characters) and stable: the same CDNOW row gets the same id."""
    return f"{prefix}_cdnow{number:09d}"


def _customers(kept: list[CdnowTransaction]) -> Iterator[dict[str, Any]]:
    first: dict[int, CdnowTransaction] = {}
    for t in kept:
        if t.sample_id not in first or t.day < first[t.sample_id].day:
            first[t.sample_id] = t
    for sample_id, t in sorted(first.items()):
        yield {
            "id": _stripe_id("cus", sample_id),
            "object": "customer",
            "email": None,
            "name": f"CDNOW customer {sample_id:04d}",
            "created": _epoch(t.day),  # created with their first order
            "currency": "usd",
            "metadata": {"cdnow_master_id": t.master_id, "cdnow_sample_id": f"{sample_id:04d}"},
        }


def _line(t: CdnowTransaction) -> dict[str, Any]:
    return {
        "id": _stripe_id("il", t.line),
        "object": "line_item",
        "invoice": _stripe_id("in", t.line),
        "subscription": None,
        "type": "invoiceitem",
        "price": None,
        "quantity": t.cds,
        "amount": _cents(t.dollars),
        "currency": "usd",
        "description": f"{t.cds} CD{'' if t.cds == 1 else 's'}",
        "proration": False,
        "period": {"start": _epoch(t.day), "end": _epoch(t.day)},
        "discount_amounts": [],
    }


def _invoice(t: CdnowTransaction) -> dict[str, Any]:
    amount, created = _cents(t.dollars), _epoch(t.day)
    return {
        "id": _stripe_id("in", t.line),
        "object": "invoice",
        "customer": _stripe_id("cus", t.sample_id),
        "subscription": None,
        "status": "paid",
        "billing_reason": "manual",
        "currency": "usd",
        "subtotal": amount,
        "total": amount,
        "amount_due": amount,
        "amount_paid": amount,
        "amount_remaining": 0,
        "attempt_count": 1 if amount else 0,  # Stripe marks a $0 invoice paid without charging the card
        "charge": _stripe_id("ch", t.line) if amount else None,
        "discount": None,
        "total_discount_amounts": [],
        "created": created,
        "period_start": created,
        "period_end": created,
        "status_transitions": {"finalized_at": created, "paid_at": created},
        "lines": {"object": "list", "data": [_line(t)]},
    }


def _charge(t: CdnowTransaction) -> dict[str, Any]:
    return stripe.charge(
        _stripe_id("ch", t.line),
        _stripe_id("cus", t.sample_id),
        _stripe_id("in", t.line),
        _cents(t.dollars),
        "usd",
        _epoch(t.day),
        "CDNOW order",
    )
