"""Reading the generator's export files straight, for tests that recompute a mart's numbers without SQL."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path


def read_jsonl(folder: Path, entity: str) -> dict[str, dict]:
    """One record per id, the last copy read winning; broken lines and id-less copies are skipped (the loader
    rejects them too; every planted defect is an extra copy, never the only one)."""
    records: dict[str, dict] = {}
    for path in (folder / f"{entity}.jsonl", folder / f"{entity}__late.jsonl"):
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and record.get("id"):
                records[record["id"]] = record
    return records


def read_fx(folder: Path) -> dict[str, list[tuple[date, Decimal]]]:
    """Each currency's daily USD rates, oldest first; unreadable rows are skipped as the loader rejects them."""
    rates: dict[str, dict[date, Decimal]] = defaultdict(dict)
    for path in (folder / "fx_rates.csv", folder / "fx_rates__late.csv"):
        if path.exists():
            for row in csv.DictReader(path.open(encoding="utf-8")):
                try:
                    rates[row["currency"].strip().upper()][date.fromisoformat(row["rate_date"])] = Decimal(
                        row["rate_to_usd"]
                    )
                except (KeyError, ValueError, ArithmeticError, AttributeError):
                    continue
    return {code: sorted(by_day.items()) for code, by_day in rates.items()}


def rate_on(fx: dict[str, list[tuple[date, Decimal]]], currency: str, day: date) -> Decimal | None:
    """The rate of `day`, else the latest earlier one; None when the currency has none that early."""
    if currency == "USD":
        return Decimal(1)
    earlier = [rate for rate_day, rate in fx.get(currency, []) if rate_day <= day]
    return earlier[-1] if earlier else None
