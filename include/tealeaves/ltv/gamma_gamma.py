"""Gamma-Gamma: what a customer's transactions are worth on average (Fader, Hardie & Lee 2005, JMR; Fader &
Hardie, "The Gamma-Gamma Model of Monetary Value", 2013).

Each transaction's value is Gamma(p, ν); a customer's ν is Gamma(q, γ) across customers. The model is fitted
on repeat customers only, from the mean of their repeat transactions, and assumes spend is independent of
purchase frequency, which is what lets it be multiplied by BG/NBD's transaction counts. Its prediction
shrinks a customer's observed mean towards the population mean, more so the fewer transactions they have.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.special import gammaln

from .errors import LtvInputError, NotConvergedError
from .optimize import maximise
from .summary import CustomerSummaries

FloatArray = NDArray[np.float64]
PARAMETER_NAMES = ("p", "q", "gamma")
_STARTS = ((1.0, 1.0, 1.0), (5.0, 3.0, 10.0), (2.0, 5.0, 50.0))


@dataclass(frozen=True)
class GammaGammaFit:
    """A fitted Gamma-Gamma model; gamma is in the currency of the spend it was fitted on, p and q unitless."""

    n_customers: int
    p: float
    q: float
    gamma: float
    log_likelihood: float
    converged: bool
    message: str
    outcome: str = "converged"  # a FitOutcome code
    # Covariance of the log-parameters (in `params` order) at a converged fit: sqrt of the diagonal is each
    # parameter's relative standard error. None when the fit did not converge.
    log_covariance: NDArray[np.float64] | None = field(default=None, compare=False, repr=False)

    @property
    def params(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma}

    @property
    def log_standard_errors(self) -> dict[str, float]:
        """Each parameter's standard error on the log scale, about its relative standard error; {} unless converged."""
        if self.log_covariance is None:
            return {}
        return dict(zip(self.params, np.sqrt(np.diag(self.log_covariance)).tolist(), strict=True))

    @property
    def population_mean_spend(self) -> float:
        """E[transaction value] for a customer we know nothing about: pγ/(q-1), finite only when q > 1."""
        self._require_usable()
        return self.p * self.gamma / (self.q - 1)

    def _require_usable(self) -> None:
        if not self.converged:
            raise NotConvergedError(f"Gamma-Gamma fit did not converge, refusing to predict: {self.message}")
        if self.q <= 1:
            raise NotConvergedError(
                f"Gamma-Gamma q = {self.q:.4g} <= 1: spend is so dispersed that the expected value is infinite"
            )


def log_likelihood_per_customer(
    p: float,
    q: float,
    gamma: float,
    x: FloatArray,
    m: FloatArray,
    x_index: tuple[FloatArray, NDArray[np.intp]] | None = None,
) -> FloatArray:
    """ln f(m̄ | p, q, γ; x), eq. 3 of the note: the density of a mean of x Gamma(p, ν) values, ν ~ Gamma(q, γ).

    The terms without m are computed once per distinct x and gathered, the same values, as in
    bgnbd.log_likelihood_per_customer (`x_index` likewise).
    """
    distinct, position = np.unique(x, return_inverse=True) if x_index is None else x_index
    p_distinct = p * distinct
    px = p * x
    return (
        (gammaln(p_distinct + q) - gammaln(p_distinct) - gammaln(q) + q * np.log(gamma))[position]
        + (px - 1) * np.log(m)
        + (p_distinct * np.log(distinct))[position]
        - (px + q) * np.log(gamma + m * x)
    )


def fit_gamma_gamma(summaries: CustomerSummaries) -> GammaGammaFit:
    """Fit on customers with at least one repeat purchase that cost something; the others carry no repeat-spend
    information (a $0 purchase is no draw from a Gamma distribution of spend)."""
    if summaries.monetary_value is None:
        raise LtvInputError("Gamma-Gamma needs monetary_value (mean repeat spend) in the customer summaries")
    repeat = summaries.spend_x > 0
    x, m = summaries.spend_x[repeat], summaries.monetary_value[repeat]
    n = int(repeat.sum())
    if n < 2:
        raise LtvInputError(f"Gamma-Gamma needs at least 2 customers with repeat purchases; got {n}")
    if np.ptp(m) == 0:
        raise LtvInputError(
            f"all {n} repeat customers have the same mean spend ({m[0]:g}): the spread of spend across customers, "
            "which Gamma-Gamma estimates, is zero"
        )

    x_index = np.unique(x, return_inverse=True)

    def negative(params: FloatArray) -> float:
        p, q, gamma = params
        return -float(np.sum(log_likelihood_per_customer(p, q, gamma, x, m, x_index)))

    scale = float(np.mean(m)) / 35.0  # gamma is in currency units: scale starts to the data's spend level
    starts = [(p, q, gamma * scale) for p, q, gamma in _STARTS]
    optimum = maximise(negative, PARAMETER_NAMES, starts)
    p, q, gamma = (float(v) for v in optimum.params)
    return GammaGammaFit(
        n,
        p,
        q,
        gamma,
        optimum.log_likelihood,
        optimum.converged,
        optimum.message,
        optimum.outcome,
        optimum.log_covariance,
    )


def expected_average_spend(fit: GammaGammaFit, x: FloatArray, m: FloatArray) -> FloatArray:
    """E[M | p, q, γ, m̄, x] = (γ + m̄x)p / (px + q - 1), eq. 5 of the note; x = 0 gives the population mean."""
    fit._require_usable()
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    m = np.where(x > 0, m, 0.0)
    return (fit.gamma + m * x) * fit.p / (fit.p * x + fit.q - 1)
