"""Multi-start maximum likelihood on log-parameters, shared by BG/NBD and Gamma-Gamma.

Both models have strictly positive parameters, so optimising their logarithms removes the positivity
constraint. Bounds on the logs stay, and are deliberately wide: a maximum found *at* a bound is not a
maximum of the likelihood but a sign that the data cannot identify a parameter (no heterogeneity, no
repeat buying, ...), so it is reported as not converged instead of being handed on as an estimate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize

# A parameter whose standard error on the log scale exceeds this is not estimated: a one-standard-error
# interval spanning more than a factor e^2 ≈ 7.4 either way is the data saying "anything fits".
MAX_LOG_SE = 2.0
_HESSIAN_STEP = 1e-3
LOG_BOUND = np.log(1e6)  # parameters live in [1e-6, 1e6]
_WALL = 1e300  # the value minimised where the likelihood is not finite: no step onto it lowers the value
_AT_BOUND = 1e-3  # within 0.1% (in log) of a bound counts as at the bound
# Below what rounding lets the slope reach at these likelihoods' sizes: with ftol 0, the polish ends when a step no
# longer lowers the value (L-BFGS-B's relative-reduction test at zero), not on the slope.
_POLISHED_GRADIENT = 1e-8

# The negative log-likelihood and its derivatives by the parameters, from one call
WithGradient = Callable[[NDArray[np.float64]], tuple[float, NDArray[np.float64]]]


class FitOutcome:
    """Why a fit did or did not converge, as a code callers and tests can branch on (messages are for people)."""

    CONVERGED = "converged"
    NOT_FINITE = "not_finite"  # the likelihood is not finite at any start, or next to the optimum
    AT_BOUND = "at_bound"  # a parameter ran to the edge of [1e-6, 1e6]
    FLAT = "flat"  # the likelihood is flat or not a maximum at the optimum
    VAGUE = "vague"  # a parameter's standard error spans more than a factor e^2 either way
    OPTIMISER_FAILED = "optimiser_failed"

    UNIDENTIFIED = frozenset({AT_BOUND, FLAT, VAGUE})


@dataclass(frozen=True)
class Optimum:
    params: NDArray[np.float64]
    log_likelihood: float
    converged: bool
    message: str
    starts: int
    starts_agreeing: int
    outcome: str = FitOutcome.CONVERGED
    # Inverse observed information of the log-parameters at a converged optimum (None otherwise): its diagonal
    # square roots are the relative standard errors of the parameters, the sampling error a band may claim.
    log_covariance: NDArray[np.float64] | None = field(default=None, compare=False)


def maximise(
    neg_log_likelihood: Callable[[NDArray[np.float64]], float],
    names: Sequence[str],
    starts: Sequence[Sequence[float]],
    with_gradient: WithGradient | None = None,
) -> Optimum:
    """Minimise the negative log-likelihood over log-parameters from each start; keep the best.

    `with_gradient`: the negative log-likelihood and its derivatives by the parameters, both from one call, when
    the derivatives are known; else L-BFGS-B takes them by finite differences (a likelihood per parameter per step).

    Convergence means: the best run's optimiser reported success, its value is finite, and no parameter sits
    at a bound. ``starts_agreeing`` counts starts that reached the same optimum (within 1e-4 in
    log-likelihood), a cheap check against local maxima.
    """
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(names)

    def objective(log_params: NDArray[np.float64]) -> float:
        with np.errstate(all="ignore"):
            value = neg_log_likelihood(np.exp(log_params))
        return float(value) if np.isfinite(value) else _WALL

    objective_and_gradient = (
        None if with_gradient is None else partial(_objective_and_log_gradient, with_gradient=with_gradient)
    )

    runs = []
    for start in starts:
        x0 = np.log(np.asarray(start, dtype=float))
        if objective_and_gradient is None:
            result = minimize(objective, x0, method="L-BFGS-B", bounds=bounds)
        else:
            result = minimize(objective_and_gradient, x0, jac=True, method="L-BFGS-B", bounds=bounds)
        runs.append((float(result.fun), result.x, bool(result.success), str(result.message)))
    # Polish the best run: L-BFGS-B stops on its relative-reduction test (about 1e-9 of the value) short of the
    # optimum on the flat ridge a and b share. With derivatives, L-BFGS-B again from there, going on while a step
    # still lowers the value, settles it in a few steps; without them Nelder-Mead does, in hundreds of likelihoods.
    # Only the best run.
    best = min(range(len(runs)), key=lambda i: runs[i][0])
    if objective_and_gradient is None:
        polished = minimize(
            objective, runs[best][1], method="Nelder-Mead", options={"xatol": 1e-7, "fatol": 1e-9, "maxiter": 4000}
        )
    else:
        polished = minimize(
            objective_and_gradient,
            runs[best][1],
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"ftol": 0.0, "gtol": _POLISHED_GRADIENT},
        )
    if polished.fun <= runs[best][0] and np.all(np.abs(polished.x) <= LOG_BOUND):
        runs[best] = (float(polished.fun), polished.x, runs[best][2] or bool(polished.success), str(polished.message))
    finite = [run for run in runs if run[0] < 1e299]
    if not finite:
        return Optimum(
            np.full(len(names), np.nan),
            float("-inf"),
            False,
            "log-likelihood is not finite at any start",
            len(starts),
            0,
            FitOutcome.NOT_FINITE,
        )
    best_fun, best_x, ok, msg = min(finite, key=lambda run: run[0])
    agreeing = sum(1 for run in finite if abs(run[0] - best_fun) <= 1e-4)
    at_bound = [
        name for name, value in zip(names, best_x, strict=True) if LOG_BOUND - abs(value) < _AT_BOUND * LOG_BOUND
    ]
    params = np.exp(best_x)
    if at_bound:
        return Optimum(
            params,
            -best_fun,
            False,
            f"parameter(s) {', '.join(at_bound)} ran to the bound of [1e-6, 1e6]: the data do not identify them "
            f"(too little variation between customers or too few repeat purchases)",
            len(starts),
            agreeing,
            FitOutcome.AT_BOUND,
        )
    log_gradient = None if with_gradient is None else partial(_log_gradient, with_gradient=with_gradient)
    outcome, flat, covariance = _unidentified(objective, best_x, names, log_gradient)
    if flat:
        return Optimum(params, -best_fun, False, flat, len(starts), agreeing, outcome)
    if not ok:
        return Optimum(
            params,
            -best_fun,
            False,
            f"optimiser did not converge: {msg}",
            len(starts),
            agreeing,
            FitOutcome.OPTIMISER_FAILED,
        )
    return Optimum(
        params,
        -best_fun,
        True,
        f"converged ({agreeing} of {len(starts)} starts agree)",
        len(starts),
        agreeing,
        log_covariance=covariance,
    )


def _value_and_log_gradient(
    log_params: NDArray[np.float64], with_gradient: WithGradient
) -> tuple[float, NDArray[np.float64], bool]:
    """The negative log-likelihood, its derivatives by the log-parameters (d/d(ln θ) = θ d/dθ: the optimiser works
    in logs) and whether both are finite."""
    params = np.exp(log_params)
    with np.errstate(all="ignore"):
        value, gradient = with_gradient(params)
        by_log_params = np.asarray(gradient, dtype=float) * params
    return float(value), by_log_params, bool(np.isfinite(value) and np.all(np.isfinite(by_log_params)))


def _objective_and_log_gradient(
    log_params: NDArray[np.float64], with_gradient: WithGradient
) -> tuple[float, NDArray[np.float64]]:
    """What L-BFGS-B minimises: the flat wall (_WALL) where the likelihood is not finite, as `objective` has."""
    value, gradient, finite = _value_and_log_gradient(log_params, with_gradient)
    return (value, gradient) if finite else (_WALL, np.zeros_like(log_params))


def _log_gradient(log_params: NDArray[np.float64], with_gradient: WithGradient) -> NDArray[np.float64]:
    """The derivatives for the curvature: NaN where not finite, so that the optimum's neighbourhood is judged
    NOT_FINITE instead of differencing a wall or infinities."""
    _, gradient, finite = _value_and_log_gradient(log_params, with_gradient)
    return gradient if finite else np.full_like(log_params, np.nan)


def _unidentified(
    objective: Callable[[NDArray[np.float64]], float],
    x: NDArray[np.float64],
    names: Sequence[str],
    gradient: Callable[[NDArray[np.float64]], NDArray[np.float64]] | None = None,
) -> tuple[str, str, NDArray[np.float64] | None]:
    """Outcome code, the reason the optimum is not a usable estimate (flat or saddle likelihood) or "" when it is,
    and the log-parameters' covariance when it is.

    An optimiser stopping on a ridge (for BG/NBD: r and alpha growing together when customers do not differ)
    reports success at arbitrary values; the curvature of the log-likelihood there is what tells the truth.
    The curvature is the derivatives' central differences when `gradient` gives them (2k evaluations), else the
    values' (4 per pair of parameters: 40 for BG/NBD's four).
    """
    k = len(x)
    h = _HESSIAN_STEP
    hessian = np.empty((k, k))
    if gradient is not None:
        for i in range(k):
            step = np.eye(k)[i] * h
            hessian[:, i] = (gradient(x + step) - gradient(x - step)) / (2 * h)
        hessian = (hessian + hessian.T) / 2
    else:
        for i in range(k):
            for j in range(i, k):
                ei, ej = np.eye(k)[i] * h, np.eye(k)[j] * h
                value = (
                    objective(x + ei + ej) - objective(x + ei - ej) - objective(x - ei + ej) + objective(x - ei - ej)
                ) / (4 * h * h)
                hessian[i, j] = hessian[j, i] = value
    if not np.all(np.isfinite(hessian)):
        return FitOutcome.NOT_FINITE, "log-likelihood is not finite next to the optimum", None
    eigenvalues = np.linalg.eigvalsh(hessian)
    if eigenvalues.min() <= 0:
        return (
            FitOutcome.FLAT,
            "log-likelihood is flat or not at a maximum there: the data do not identify the parameters",
            None,
        )
    covariance = np.linalg.inv(hessian)
    se = np.sqrt(np.diag(covariance))
    vague = [
        f"{name} (standard error ×e^{value:.1f})" for name, value in zip(names, se, strict=True) if value > MAX_LOG_SE
    ]
    if vague:
        return (
            FitOutcome.VAGUE,
            f"parameter(s) {', '.join(vague)} not identified by the data: too few customers or too little variation",
            None,
        )
    return FitOutcome.CONVERGED, "", covariance
