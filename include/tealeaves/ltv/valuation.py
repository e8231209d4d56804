"""One call from a transaction log to per-customer predictions: the entry point for the DAG task and the CLI.

It refuses to return values from a fit that did not converge, so a caller that writes its rows to a mart
cannot publish CLV from an unidentified model by forgetting to look at a flag.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from .bgnbd import BgNbdFit, fit_bgnbd
from .clv import DEFAULT_WINDOWS_MONTHS, CustomerValue, customer_values
from .gamma_gamma import GammaGammaFit, fit_gamma_gamma
from .summary import CustomerSummaries
from .transactions import Transaction, calibration_summaries, purchase_days
from .units import TimeUnit


@dataclass(frozen=True)
class Valuation:
    """Both fits (for the run log and the docs), the summaries they saw, and one CustomerValue per customer."""

    as_of: date
    bgnbd: BgNbdFit
    gamma_gamma: GammaGammaFit
    summaries: CustomerSummaries
    values: list[CustomerValue]
    horizon_months: int
    monthly_discount_rate: float


def value_customers(
    transactions: Iterable[Transaction],
    as_of: date,
    time_unit: TimeUnit = TimeUnit.WEEKS,
    horizon_months: int = 12,
    monthly_discount_rate: float = 0.01,
    windows_months: Sequence[int] = DEFAULT_WINDOWS_MONTHS,
) -> Valuation:
    """Fit BG/NBD and Gamma-Gamma on purchases up to ``as_of`` and value every customer seen by then.

    Raises LtvInputError for data the models cannot fit, NotConvergedError when a fit does not converge.
    """
    summaries = calibration_summaries(purchase_days(transactions), as_of, time_unit)
    bgnbd = fit_bgnbd(summaries)
    bgnbd.require_converged()
    gamma_gamma = fit_gamma_gamma(summaries)
    values = customer_values(bgnbd, gamma_gamma, summaries, horizon_months, monthly_discount_rate, windows_months)
    return Valuation(as_of, bgnbd, gamma_gamma, summaries, values, horizon_months, monthly_discount_rate)
