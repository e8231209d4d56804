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
    _check_clv_terms(horizon_months, monthly_discount_rate)
    if summaries.monetary_value is None:
        raise LtvInputError("CLV needs monetary_value (mean repeat spend) in the customer summaries")
    per_month = expected_transactions_by_month(bgnbd, summaries, horizon_months)
    spend = expected_average_spend(gamma_gamma, summaries.spend_x, summaries.monetary_value)
    return _discounted(per_month, spend, monthly_discount_rate)


def _check_clv_terms(horizon_months: int, monthly_discount_rate: float) -> None:
    if horizon_months < 1:
        raise LtvInputError(f"horizon_months must be >= 1; got {horizon_months}")
    if not 0 <= monthly_discount_rate < 1:
        raise LtvInputError(f"monthly_discount_rate is a fraction per month in [0, 1); got {monthly_discount_rate}")


def _discounted(per_month: FloatArray, spend: FloatArray, monthly_discount_rate: float) -> FloatArray:
    """Σ_k per_month[:, k-1] × spend / (1 + d)^k over the matrix's months."""
    discount = (1.0 + monthly_discount_rate) ** -np.arange(1, per_month.shape[1] + 1)
    return (per_month @ discount) * spend


@dataclass(frozen=True)
class CustomerValueColumns:
    """CustomerValue's fields for every customer, one array each (windows: months ahead -> array)."""

    customer_ids: Sequence[Hashable]
    p_alive: FloatArray
    expected_spend: FloatArray
    expected_transactions: dict[int, FloatArray]
    expected_revenue: dict[int, FloatArray]
    clv: FloatArray


def customer_value_columns(
    bgnbd: BgNbdFit,
    gamma_gamma: GammaGammaFit,
    summaries: CustomerSummaries,
    horizon_months: int = 12,
    monthly_discount_rate: float = 0.01,
    windows_months: Sequence[int] = DEFAULT_WINDOWS_MONTHS,
) -> CustomerValueColumns:
    """What customer_values gives, as arrays: a fit of 100,000 customers writes them without a Python object per
    customer, and the months' transactions serve both the windows and the CLV (discounted_clv's, the same floats)."""
    if summaries.monetary_value is None:
        raise LtvInputError("customer values need monetary_value (mean repeat spend) in the customer summaries")
    _check_clv_terms(horizon_months, monthly_discount_rate)
    months = max(horizon_months, *windows_months)
    per_month = expected_transactions_by_month(bgnbd, summaries, months)
    cumulative = np.cumsum(per_month, axis=1)
    spend = expected_average_spend(gamma_gamma, summaries.spend_x, summaries.monetary_value)
    transactions = {w: cumulative[:, w - 1] for w in windows_months}
    return CustomerValueColumns(
        customer_ids=summaries.customer_ids,
        p_alive=probability_alive(bgnbd, summaries.frequency, summaries.recency, summaries.T),
        expected_spend=spend,
        expected_transactions=transactions,
        expected_revenue={w: transactions[w] * spend for w in windows_months},
        # a contiguous copy of the horizon's months: the product then runs as on discounted_clv's own matrix
        clv=_discounted(np.ascontiguousarray(per_month[:, :horizon_months]), spend, monthly_discount_rate),
    )


def customer_values(
    bgnbd: BgNbdFit,
    gamma_gamma: GammaGammaFit,
    summaries: CustomerSummaries,
    horizon_months: int = 12,
    monthly_discount_rate: float = 0.01,
    windows_months: Sequence[int] = DEFAULT_WINDOWS_MONTHS,
) -> list[CustomerValue]:
    """Everything a mart row needs per customer: P(alive), spend, transactions and revenue per window, CLV."""
    columns = customer_value_columns(
        bgnbd, gamma_gamma, summaries, horizon_months, monthly_discount_rate, windows_months
    )
    return [
        CustomerValue(
            customer_id=cid,
            p_alive=float(columns.p_alive[i]),
            expected_spend=float(columns.expected_spend[i]),
            expected_transactions={w: float(columns.expected_transactions[w][i]) for w in windows_months},
            expected_revenue={w: float(columns.expected_revenue[w][i]) for w in windows_months},
            clv=float(columns.clv[i]),
        )
        for i, cid in enumerate(columns.customer_ids)
    ]


def _check_same_unit(fit: BgNbdFit, summaries: CustomerSummaries) -> None:
    if fit.time_unit != summaries.time_unit:
        raise LtvInputError(
            f"the BG/NBD fit is in {fit.time_unit.value} but the summaries are in {summaries.time_unit.value}; "
            "build the summaries in the fit's unit"
        )
