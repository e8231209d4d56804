"""Inputs the models cannot fit fail with a sentence a user can act on, never with NaN or a numpy warning.

A DAG that writes CLV to a mart must stop on these, not publish parameters an optimiser wandered off to.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from tealeaves.ltv import (
    CustomerSummaries,
    FitOutcome,
    GammaGammaFit,
    LtvInputError,
    NotConvergedError,
    TimeUnit,
    backtest,
    customer_values,
    expected_transactions,
    fit_bgnbd,
    fit_gamma_gamma,
    probability_alive,
)

pytestmark = pytest.mark.filterwarnings("error")

WEEKS = TimeUnit.WEEKS


def summaries(x, t_x, T, m=None) -> CustomerSummaries:
    return CustomerSummaries.from_arrays(x, t_x, T, WEEKS, m)


def test_one_customer_is_refused():
    with pytest.raises(LtvInputError, match="population"):
        fit_bgnbd(summaries([3], [20.0], [30.0]))


def test_no_repeat_purchases_at_all_is_refused():
    with pytest.raises(LtvInputError, match="none of the 50 customers made a repeat purchase"):
        fit_bgnbd(summaries([0] * 50, [0.0] * 50, np.linspace(1, 30, 50)))


def test_identical_customers_are_refused():
    with pytest.raises(LtvInputError, match="same history"):
        fit_bgnbd(summaries([2] * 40, [10.0] * 40, [30.0] * 40))


@pytest.mark.parametrize(
    ("x", "t_x", "T", "rule"),
    [
        ([1, -1], [5.0, 0.0], [10.0, 10.0], "whole number >= 0"),
        ([1, 1.5], [5.0, 5.0], [10.0, 10.0], "whole number >= 0"),
        ([1, 2], [5.0, 0.0], [10.0, 10.0], "must have recency > 0"),
        ([1, 2], [5.0, 12.0], [10.0, 10.0], "cannot exceed T"),
        ([1, 0], [5.0, 3.0], [10.0, 10.0], "no repeat purchase must have recency 0"),
        ([1, 0], [5.0, 0.0], [10.0, -1.0], "must be >= 0"),
        ([1, 0], [5.0, -2.0], [10.0, 10.0], "recency must be >= 0"),
        ([1, 0], [5.0, float("nan")], [10.0, 10.0], "must be finite"),
    ],
)
def test_impossible_histories_are_refused_naming_the_customer(x, t_x, T, rule):
    with pytest.raises(LtvInputError, match=rule) as caught:
        CustomerSummaries.from_arrays(x, t_x, T, WEEKS, customer_ids=["acme", "globex"])
    if "finite" not in rule:
        assert "'globex'" in str(caught.value), "the message names the customer at fault"


def test_mismatched_columns_are_refused():
    with pytest.raises(LtvInputError, match="one entry per customer"):
        CustomerSummaries.from_arrays([1, 0], [5.0], [10.0, 10.0], WEEKS)


def test_repeat_customer_with_no_spend_is_refused():
    with pytest.raises(LtvInputError, match="mean repeat spend must be > 0"):
        summaries([1, 0], [5.0, 0.0], [10.0, 10.0], [0.0, 0.0])


def test_a_fit_the_data_cannot_identify_is_not_converged_and_refuses_to_predict():
    """Six customers who all buy steadily and recently: no sign of dropout or of differing rates.

    The optimiser runs the heterogeneity parameters off to the edge; that must come back as converged=False
    with the reason, and predictions from it must be refused.
    """
    fit = fit_bgnbd(summaries([2, 2, 2, 2, 3, 3], [9.0, 9.5, 8.0, 9.9, 9.7, 9.8], [10.0] * 6))
    assert not fit.converged
    assert fit.outcome in FitOutcome.UNIDENTIFIED
    with pytest.raises(NotConvergedError, match="refusing to predict"):
        expected_transactions(fit, 10.0, np.array([2.0]), np.array([9.0]), np.array([10.0]))
    with pytest.raises(NotConvergedError):
        probability_alive(fit, np.array([2.0]), np.array([9.0]), np.array([10.0]))


def test_two_customers_give_an_optimum_on_a_flat_ridge_that_is_not_reported_as_converged():
    """Which of the unidentified outcomes the optimiser reaches (a bound, a flat ridge, a vague estimate) depends
    on its path, which differs between CPUs and BLAS kernels; any of them is the right answer."""
    fit = fit_bgnbd(summaries([1, 0], [5.0, 0.0], [10.0, 10.0]))
    assert not fit.converged
    assert fit.outcome in FitOutcome.UNIDENTIFIED


def test_gamma_gamma_refuses_identical_spend_and_missing_spend():
    with pytest.raises(LtvInputError, match="same mean spend"):
        fit_gamma_gamma(summaries([1, 2, 3], [2.0, 4.0, 6.0], [10.0] * 3, [20.0] * 3))
    with pytest.raises(LtvInputError, match="needs monetary_value"):
        fit_gamma_gamma(summaries([1, 2, 3], [2.0, 4.0, 6.0], [10.0] * 3))
    with pytest.raises(LtvInputError, match="at least 2 customers with repeat"):
        fit_gamma_gamma(summaries([1, 0, 0], [2.0, 0.0, 0.0], [10.0] * 3, [20.0, 0.0, 0.0]))


def test_gamma_gamma_with_infinite_mean_spend_refuses_to_predict():
    fit = GammaGammaFit(n_customers=100, p=2.0, q=0.8, gamma=10.0, log_likelihood=-1.0, converged=True, message="")
    with pytest.raises(NotConvergedError, match="q = 0.8 <= 1"):
        _ = fit.population_mean_spend


def test_summaries_in_another_unit_than_the_fit_are_refused():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 5, 300).astype(float)
    T = rng.uniform(20, 40, 300)
    t_x = np.where(x > 0, T * rng.uniform(0.1, 1.0, 300), 0.0)
    m = np.where(x > 0, rng.uniform(10, 50, 300), 0.0)
    weekly = CustomerSummaries.from_arrays(x, t_x, T, WEEKS, m)
    bgnbd, gg = fit_bgnbd(weekly), fit_gamma_gamma(weekly)
    daily = CustomerSummaries.from_arrays(x, t_x * 7, T * 7, TimeUnit.DAYS, m)
    with pytest.raises(LtvInputError, match="fit is in weeks but the summaries are in days"):
        customer_values(bgnbd, gg, daily)


def test_backtest_refuses_a_holdout_that_ends_before_it_starts_and_bad_rows():
    with pytest.raises(LtvInputError, match="must be after"):
        backtest([("a", date(2025, 1, 1), 10.0)], date(2025, 3, 1), date(2025, 2, 1))
    with pytest.raises(LtvInputError, match="amount must be >= 0"):
        backtest([("a", date(2025, 1, 1), -10.0)], date(2025, 3, 1), date(2025, 6, 1))
    with pytest.raises(LtvInputError, match="date must be a date"):
        backtest([("a", "2025-01-01", 10.0)], date(2025, 3, 1), date(2025, 6, 1))
