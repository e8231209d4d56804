"""Loaders for the vendored CDNOW files (include/tealeaves/samples/cdnow/README.md says where they come from)."""

from __future__ import annotations

import csv

from tealeaves.ltv import CustomerSummaries, TimeUnit, Transaction
from tealeaves.samples import cdnow
from tealeaves.samples.cdnow import CALIBRATION_END, HOLDOUT_END

__all__ = ["CALIBRATION_END", "HOLDOUT_END", "cdnow_summaries", "cdnow_transactions"]


def cdnow_summaries() -> CustomerSummaries:
    """Hardie's 39-week calibration summaries of the 2,357-customer CDNOW sample, in weeks."""
    with cdnow.data_file("cdnow_customers_summary_with_transactions.csv").open() as handle:
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
    return [(t.sample_id, t.day, float(t.dollars)) for t in cdnow.transactions()]
