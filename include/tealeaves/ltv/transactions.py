"""From a transaction log to calibration summaries and holdout counts.

Purchases on the same day by the same customer are one transaction (amounts summed): BG/NBD counts purchase
occasions, and order systems often split one basket into several rows. Ages are measured from each
customer's first purchase, which is not a repeat purchase and is excluded from the mean repeat spend, as in
Fader & Hardie's CDNOW summaries. A $0 purchase day is a purchase (CDNOW's published fit counts them) but
not a spend: the mean repeat spend is over the repeat days that cost something (Gamma-Gamma's values are
> 0), and spend_frequency says how many those are.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from datetime import date, datetime

import numpy as np

from .errors import LtvInputError
from .summary import CustomerSummaries
from .units import TimeUnit

Transaction = tuple[Hashable, date, float]


def purchase_days(transactions: Iterable[Transaction]) -> dict[Hashable, dict[date, float]]:
    """customer -> {day: amount spent that day}; rejects rows that are not (id, date, finite amount)."""
    days: dict[Hashable, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    for row_number, row in enumerate(transactions):
        try:
            customer_id, when, amount = row
        except (TypeError, ValueError) as exc:
            raise LtvInputError(
                f"transaction row {row_number}: expected (customer_id, date, amount), got {row!r}"
            ) from exc
        if isinstance(when, datetime):
            when = when.date()
        if not isinstance(when, date):
            raise LtvInputError(f"transaction row {row_number} ({customer_id!r}): date must be a date, got {when!r}")
        amount = float(amount)
        if not np.isfinite(amount) or amount < 0:
            raise LtvInputError(f"transaction row {row_number} ({customer_id!r}): amount must be >= 0, got {amount}")
        days[customer_id][when] += amount
    return days


def calibration_summaries(
    days: dict[Hashable, dict[date, float]], calibration_end: date, time_unit: TimeUnit
) -> CustomerSummaries:
    """Summaries of purchases up to and including ``calibration_end``, for customers who bought by then.

    Ages are whole days from the first purchase to ``calibration_end`` divided by the unit, as in Hardie's
    CDNOW summaries (a customer first seen on the last day has T = 0 and contributes nothing to the fit).
    """
    ids, x, t_x, ages, spend, paid = [], [], [], [], [], []
    try:
        ordered = sorted(days)
    except TypeError:  # mixed id types: any stable order will do
        ordered = sorted(days, key=repr)
    for customer_id in ordered:
        calibration_days = sorted(d for d in days[customer_id] if d <= calibration_end)
        if not calibration_days:
            continue
        first = calibration_days[0]
        repeats = calibration_days[1:]
        ids.append(customer_id)
        x.append(len(repeats))
        t_x.append(time_unit.from_days((repeats[-1] - first).days) if repeats else 0.0)
        ages.append(time_unit.from_days((calibration_end - first).days))
        amounts = [days[customer_id][d] for d in repeats if days[customer_id][d] > 0]
        paid.append(len(amounts))
        spend.append(float(np.mean(amounts)) if amounts else 0.0)
    if not ids:
        raise LtvInputError(f"no customer made a purchase on or before the calibration end {calibration_end}")
    return CustomerSummaries.from_arrays(x, t_x, ages, time_unit, spend, ids, spend_frequency=paid)


def holdout_transactions(
    days: dict[Hashable, dict[date, float]], customer_ids: Iterable[Hashable], calibration_end: date, holdout_end: date
) -> np.ndarray:
    """Purchase days in (calibration_end, holdout_end] for each customer, in the order given."""
    return np.array([sum(1 for d in days[c] if calibration_end < d <= holdout_end) for c in customer_ids], dtype=float)
