"""Backtest: fit on a calibration period, predict the holdout period, compare with what customers did.

This is the check Fader, Hardie & Lee use for CDNOW (weeks 1-39 to fit, 40-78 to test), and the one a user
should run on their own data before trusting CLV: a model that misses the holdout total by a wide margin
should not price customers.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import date

import numpy as np

from .bgnbd import BgNbdFit, expected_transactions, fit_bgnbd
from .errors import LtvInputError
from .summary import CustomerSummaries
from .transactions import Transaction, calibration_summaries, holdout_transactions, purchase_days
from .units import TimeUnit


@dataclass(frozen=True)
class Backtest:
    """Holdout comparison. ``per_customer`` rows: (customer_id, calibration frequency, predicted, actual)."""

    fit: BgNbdFit
    summaries: CustomerSummaries
    holdout_length: float  # in fit.time_unit
    predicted_total: float
    actual_total: float
    per_customer: list[tuple[Hashable, int, float, int]]

    @property
    def error_pct(self) -> float:
        """(predicted - actual) / actual × 100: positive means the model over-forecasts."""
        if self.actual_total == 0:
            return float("inf") if self.predicted_total > 0 else 0.0
        return 100.0 * (self.predicted_total - self.actual_total) / self.actual_total

    @property
    def mean_absolute_error(self) -> float:
        """Per-customer mean |predicted - actual| in transactions."""
        return float(np.mean([abs(pred - act) for _, _, pred, act in self.per_customer]))


def backtest(
    transactions: Iterable[Transaction],
    calibration_end: date,
    holdout_end: date,
    time_unit: TimeUnit = TimeUnit.WEEKS,
) -> Backtest:
    """Fit BG/NBD on purchases up to ``calibration_end`` and predict (calibration_end, holdout_end].

    Only customers whose first purchase falls in the calibration period are scored: the model has nothing to
    say about customers it has not met. Raises NotConvergedError if the fit does not converge.
    """
    if holdout_end <= calibration_end:
        raise LtvInputError(f"holdout_end ({holdout_end}) must be after calibration_end ({calibration_end})")
    days = purchase_days(transactions)
    summaries = calibration_summaries(days, calibration_end, time_unit)
    fit = fit_bgnbd(summaries)
    fit.require_converged()
    length = time_unit.from_days((holdout_end - calibration_end).days)
    predicted = expected_transactions(fit, length, summaries.frequency, summaries.recency, summaries.T)
    actual = holdout_transactions(days, summaries.customer_ids, calibration_end, holdout_end)
    rows = [
        (cid, int(summaries.frequency[i]), float(predicted[i]), int(actual[i]))
        for i, cid in enumerate(summaries.customer_ids)
    ]
    return Backtest(fit, summaries, length, float(predicted.sum()), float(actual.sum()), rows)
