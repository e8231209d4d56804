"""The BG/NBD fit climbs the likelihood with its derivatives written out: they must be the likelihood's own, as
central differences of log_likelihood_per_customer measure them, on customers of every kind (no repeat purchase,
a recent or an old last one, many purchases) and parameters on either side of 1; and the likelihood given with them
is log_likelihood_per_customer's, float for float."""

from __future__ import annotations

import numpy as np
import pytest

from tealeaves.ltv.bgnbd import log_likelihood_and_gradient_per_customer, log_likelihood_per_customer


@pytest.mark.parametrize("params", [(0.24, 4.4, 0.79, 2.4), (2.0, 20.0, 0.3, 0.8), (0.5, 1.0, 1.5, 0.7)])
def test_bgnbd_gradient_is_the_likelihoods_own(params):
    rng = np.random.default_rng(7)
    x = rng.integers(0, 30, 400).astype(float)
    T = rng.uniform(5, 100, 400)
    t_x = np.where(x > 0, T * rng.uniform(0, 1, 400), 0.0)
    log_likelihood, gradient = log_likelihood_and_gradient_per_customer(*params, x, t_x, T)
    np.testing.assert_array_equal(log_likelihood, log_likelihood_per_customer(*params, x, t_x, T))
    for k, value in enumerate(params):
        step = 1e-5 * value
        up, down = list(params), list(params)
        up[k] += step
        down[k] -= step
        central = (log_likelihood_per_customer(*up, x, t_x, T) - log_likelihood_per_customer(*down, x, t_x, T)) / (
            2 * step
        )
        # central differences are off by about step² times the third derivative, and by rounding: 1e-6 at most here
        np.testing.assert_allclose(gradient[k], central, rtol=0, atol=1e-6)
