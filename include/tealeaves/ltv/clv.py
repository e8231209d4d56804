"""Discounted customer lifetime value: BG/NBD transactions per month × Gamma-Gamma spend, discounted monthly.

Transactions are counted month by month (E[Y(k months)] - E[Y(k-1 months)]) rather than as one total so that
each month's revenue can carry its own discount factor 1/(1+d)^k; this is the usual construction in the
Fader-Hardie line of work and in the open-source btyd/lifetimes packages. Revenue, not margin: multiply by
gross margin % downstream (docs/ltv.md) to compare with CAC.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .bgnbd import BgNbdFit, expected_transactions, probability_alive
from .errors import LtvInputError
from .gamma_gamma import GammaGammaFit, expected_average_spend
from .summary import CustomerSummaries

FloatArray = NDArray[np.float64]
DEFAULT_WINDOWS_MONTHS = (3, 6, 12)


@dataclass(frozen=True)
class CustomerValue:
    """One customer's predictions; counts are repeat transactions, money in the currency of the spend data."""

    customer_id: Hashable
    p_alive: float
    expected_spend: float
    expected_transactions: dict[int, float]  # months ahead -> expected transactions in those months
    expected_revenue: dict[int, float]  # months ahead -> undiscounted expected revenue
    clv: float  # discounted expected revenue over the CLV horizon


def expected_transactions_by_month(fit: BgNbdFit, summaries: CustomerSummaries, months: int) -> FloatArray:
    """Matrix (customers × months) of expected transactions in each future month, in the fit's time unit."""
    _check_same_unit(fit, summaries)
    cumulative = np.stack(
        [
            expected_transactions(
                fit, fit.time_unit.from_months(k), summaries.frequency, summaries.recency, summaries.T
            )
            for k in range(months + 1)
        ],
        axis=1,
    )
    return np.diff(cumulative, axis=1)


def discounted_clv(
    bgnbd: BgNbdFit,
    gamma_gamma: GammaGammaFit,
    summaries: CustomerSummaries,
    horizon_months: int = 12,
    monthly_discount_rate: float = 0.01,
) -> FloatArray:
    """Σ_k E[transactions in month k] × E[spend] / (1 + d)^k, k = 1..horizon, per customer."""
    if horizon_months < 1:
        raise LtvInputError(f"horizon_months must be >= 1; got {horizon_months}")
    if not 0 <= monthly_discount_rate < 1:
        raise LtvInputError(f"monthly_discount_rate is a fraction per month in [0, 1); got {monthly_discount_rate}")
    if summaries.monetary_value is None:
        raise LtvInputError("CLV needs monetary_value (mean repeat spend) in the customer summaries")
    per_month = expected_transactions_by_month(bgnbd, summaries, horizon_months)
    spend = expected_average_spend(gamma_gamma, summaries.spend_x, summaries.monetary_value)
    discount = (1.0 + monthly_discount_rate) ** -np.arange(1, horizon_months + 1)
    return (per_month @ discount) * spend


def customer_values(
    bgnbd: BgNbdFit,
    gamma_gamma: GammaGammaFit,
    summaries: CustomerSummaries,
    horizon_months: int = 12,
    monthly_discount_rate: float = 0.01,
    windows_months: Sequence[int] = DEFAULT_WINDOWS_MONTHS,
) -> list[CustomerValue]:
    """Everything a mart row needs per customer: P(alive), spend, transactions and revenue per window, CLV."""
    if summaries.monetary_value is None:
        raise LtvInputError("customer values need monetary_value (mean repeat spend) in the customer summaries")
    months = max(horizon_months, *windows_months)
    per_month = expected_transactions_by_month(bgnbd, summaries, months)
    cumulative = np.cumsum(per_month, axis=1)
    spend = expected_average_spend(gamma_gamma, summaries.spend_x, summaries.monetary_value)
    alive = probability_alive(bgnbd, summaries.frequency, summaries.recency, summaries.T)
    clv = discounted_clv(bgnbd, gamma_gamma, summaries, horizon_months, monthly_discount_rate)
    return [
        CustomerValue(
            customer_id=cid,
            p_alive=float(alive[i]),
            expected_spend=float(spend[i]),
            expected_transactions={w: float(cumulative[i, w - 1]) for w in windows_months},
            expected_revenue={w: float(cumulative[i, w - 1] * spend[i]) for w in windows_months},
            clv=float(clv[i]),
        )
        for i, cid in enumerate(summaries.customer_ids)
    ]


def _check_same_unit(fit: BgNbdFit, summaries: CustomerSummaries) -> None:
    if fit.time_unit != summaries.time_unit:
        raise LtvInputError(
            f"the BG/NBD fit is in {fit.time_unit.value} but the summaries are in {summaries.time_unit.value}; "
            "build the summaries in the fit's unit"
        )
