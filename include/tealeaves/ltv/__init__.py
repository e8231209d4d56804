"""Predictive customer lifetime value: BG/NBD transactions × Gamma-Gamma spend, discounted (docs/ltv.md).

The public surface is re-exported here so a DAG task or the CLI imports from ``tealeaves.ltv`` only.
"""

from .backtest import Backtest, backtest
from .bgnbd import BgNbdFit, expected_transactions, fit_bgnbd, probability_alive
from .clv import CustomerValue, customer_values, discounted_clv, expected_transactions_by_month
from .errors import LtvError, LtvInputError, NotConvergedError
from .gamma_gamma import GammaGammaFit, expected_average_spend, fit_gamma_gamma
from .optimize import FitOutcome
from .summary import CustomerSummaries
from .transactions import Transaction, calibration_summaries, holdout_transactions, purchase_days
from .units import TimeUnit
from .valuation import Valuation, value_customers

__all__ = [
    "Backtest",
    "BgNbdFit",
    "CustomerSummaries",
    "CustomerValue",
    "FitOutcome",
    "GammaGammaFit",
    "LtvError",
    "LtvInputError",
    "NotConvergedError",
    "TimeUnit",
    "Valuation",
    "Transaction",
    "backtest",
    "calibration_summaries",
    "customer_values",
    "discounted_clv",
    "expected_average_spend",
    "expected_transactions",
    "expected_transactions_by_month",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "holdout_transactions",
    "probability_alive",
    "purchase_days",
    "value_customers",
]
