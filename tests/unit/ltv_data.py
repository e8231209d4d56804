"""Loaders for the vendored CDNOW files (tests/data/cdnow/README.md says where they come from)."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

from tealeaves.ltv import CustomerSummaries, TimeUnit, Transaction

CDNOW = Path(__file__).resolve().parents[1] / "data" / "cdnow"


def cdnow_summaries() -> CustomerSummaries:
    """Hardie's 39-week calibration summaries of the 2,357-customer CDNOW sample, in weeks."""
    with (CDNOW / "cdnow_customers_summary_with_transactions.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    return CustomerSummaries.from_arrays(
        frequency=[float(r["x"]) for r in rows],
        recency=[float(r["t_x"]) for r in rows],
        T=[float(r["T"]) for r in rows],
        time_unit=TimeUnit.WEEKS,
        monetary_value=[float(r["zbar"]) for r in rows],
        customer_ids=[int(r["ID"]) for r in rows],
    )


def cdnow_transactions() -> list[Transaction]:
    """The CDNOW sample's 6,919 transactions as (sample customer id, date, dollars)."""
    with (CDNOW / "CDNOW_sample.txt").open() as handle:
        return [
            (int(sample_id), datetime.strptime(day, "%Y%m%d").date(), float(dollars))
            for _master_id, sample_id, day, _cds, dollars in (line.split() for line in handle)
        ]


CALIBRATION_END = date(1997, 9, 30)  # end of week 39
HOLDOUT_END = date(1998, 6, 30)  # end of week 78
