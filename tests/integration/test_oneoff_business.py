"""A real shop with one-off purchases only - billing exports, no subscriptions, CRM, help desk or surveys - gets
through the whole dbt project, and its predictive LTV is the published one.

The shop is CDNOW (include/tealeaves/samples/cdnow): `tealeaves sample cdnow` writes its 2,357 customers' CD
purchases to 30 September 1997 as Stripe-shaped billing exports; they are loaded, built and fitted as the daily
DAG does (dbt without the predicted marts, predict_ltv, dbt for the predicted marts), as of that day. Oracles
from outside the code: Fader, Hardie & Lee's published BG/NBD fit and Fader & Hardie's Gamma-Gamma fit of the
same 39 weeks (as in tests/unit/test_ltv_cdnow.py), and the sample file itself for customers and dollars.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from tealeaves.ltv.store import predict_ltv
from tealeaves.samples.cdnow import CALIBRATION_END, transactions, write_billing_exports
from tests.conftest import PREDICTED_LTV, create_database, dbt_build
from tests.warehouse import query

AS_OF = {"ltv_as_of": CALIBRATION_END.isoformat()}
BGNBD_PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # Fader, Hardie & Lee (2005)
GAMMA_GAMMA_PUBLISHED = {"p": 6.25, "q": 3.74, "gamma": 15.44}  # Fader & Hardie (2013), 946 repeat customers
SUBSCRIPTION_MARTS = (
    "fct_mrr_movements",
    "fct_revenue_retention_monthly",
    "fct_cohort_retention",
    "fct_gross_margin",
    "fct_customer_health",
    "fct_acquisition_vs_retention_cost",
)


@pytest.fixture(scope="module")
def cdnow_shop(server, tmp_path_factory):
    """The CDNOW calibration data loaded and built in a database of its own; returns its URL."""
    from tealeaves.load import load_paths

    folder = tmp_path_factory.mktemp("cdnow")
    written = write_billing_exports(folder / "exports")
    assert (written.customers, written.invoices) == (2357, 4960)
    url = create_database(server, "t_oneoff_cdnow")
    load_paths(url, [folder / "exports"])
    dbt_build(url, f"fqn:* --exclude tag:{PREDICTED_LTV}+", folder / "dbt", AS_OF)
    predict_ltv(url, "oneoff_cdnow")
    dbt_build(url, f"tag:{PREDICTED_LTV}+", folder / "dbt-predicted", AS_OF)
    return url


def calibration():
    return [t for t in transactions() if t.day <= CALIBRATION_END]


def first_purchase_days() -> dict[str, date]:
    """customer_key -> day of the customer's first purchase, from the sample file."""
    firsts: dict[str, date] = {}
    for t in calibration():
        key = f"billing:cus_cdnow{t.sample_id:09d}"
        firsts[key] = min(firsts.get(key, t.day), t.day)
    return firsts


def test_the_fit_uses_every_customer_and_reproduces_the_published_parameters(cdnow_shop):
    """All 2,357 customers are in the fit, the eight whose only purchase cost $0 included, and r, alpha, a, b
    and p, q, gamma are each within 1% of the papers'; Gamma-Gamma sees the 946 repeat buyers."""
    [fit] = query(
        cdnow_shop,
        "select as_of_date, time_unit, n_customers, n_repeat_customers, converged, message, bgnbd_r, bgnbd_alpha, "
        "bgnbd_a, bgnbd_b, bgnbd_log_likelihood, gamma_gamma_p, gamma_gamma_q, gamma_gamma_gamma_usd "
        "from marts_build.ltv_model_fit where fit_kind = 'pipeline'",
    )
    as_of, unit, customers, repeat, converged, message, r, alpha, a, b, ll, p, q, gamma = fit
    print({"r": r, "alpha": alpha, "a": a, "b": b, "LL": ll, "p": p, "q": q, "gamma": gamma})  # shown with -s
    assert converged, message
    assert (as_of, unit, customers, repeat) == (CALIBRATION_END, "weeks", 2357, 946)
    for name, value in {"r": r, "alpha": alpha, "a": a, "b": b}.items():
        assert value == pytest.approx(BGNBD_PUBLISHED[name], rel=0.01), name
    assert ll == pytest.approx(-9582.4, abs=0.1)
    for name, value in {"p": p, "q": q, "gamma": gamma}.items():
        assert value == pytest.approx(GAMMA_GAMMA_PUBLISHED[name], rel=0.01), name
    [(zero_only,)] = query(
        cdnow_shop, "select count(*) from intermediate.int_customers_summarised where purchases_usd = 0"
    )
    assert zero_only == 8, "the customers whose only purchase was $0 are in the fit"


def test_every_billing_customer_is_a_customer_with_unknown_channel_and_their_revenue(cdnow_shop):
    """dim_customers has the sample's 2,357 customers, each under its billing id (no CRM to match), channel
    UNKNOWN, acquired on their first purchase day, with the dollars the sample file says they spent."""
    [(rows, unknown, unmatched, revenue)] = query(
        cdnow_shop,
        """
        select count(*), count(*) filter (where acquisition_channel = 'UNKNOWN'),
               count(*) filter (where crm_company_id is null and primary_billing_customer_id is not null),
               sum(lifetime_revenue_usd)
        from marts_build.dim_customers
        """,
    )
    assert rows == unknown == unmatched == 2357
    assert revenue == sum(t.dollars for t in calibration())
    acquired = dict(query(cdnow_shop, "select customer_key, acquired_at::date from marts_build.dim_customers"))
    assert acquired == first_purchase_days()


def test_subscription_marts_are_empty_not_failed(cdnow_shop):
    """No subscription, so no MRR: the marts built on it exist (their tests passed) and hold no row."""
    for mart in SUBSCRIPTION_MARTS:
        assert query(cdnow_shop, f"select count(*) from marts_build.{mart}") == [(0,)], mart


def test_historical_ltv_marts_have_every_customer_and_cohort(cdnow_shop):
    """fct_customer_lifetime_value holds every customer with their revenue; fct_cohort_lifetime_value and
    fct_ltv_cac one row per first-purchase month (all in Q1 1997, as the sample was drawn), with the sample's
    customer counts; historical LTV (margin earned) is null, not 0: without subscriptions or a cost ledger no
    gross margin is known."""
    by_month = Counter(day.replace(day=1) for day in first_purchase_days().values())
    [(customers, revenue, with_historical)] = query(
        cdnow_shop,
        "select count(*), sum(lifetime_revenue_usd), count(historical_ltv_usd) "
        "from marts_build.fct_customer_lifetime_value",
    )
    assert (customers, revenue, with_historical) == (2357, sum(t.dollars for t in calibration()), 0)
    cohorts = query(
        cdnow_shop,
        "select cohort_month, customers, historical_ltv_usd from marts_build.fct_cohort_lifetime_value "
        "where acquisition_channel = 'UNKNOWN'",
    )
    assert {month: n for month, n, _ in cohorts} == dict(by_month)
    assert all(historical is None for _, _, historical in cohorts)
    ltv_cac = query(
        cdnow_shop,
        "select cohort_month, customers, customers_with_predicted_clv, predicted_clv_per_customer_usd "
        "from marts_build.fct_ltv_cac",
    )
    assert {month: n for month, n, _, _ in ltv_cac} == dict(by_month)
    assert all(n == valued and clv > 0 for _, n, valued, clv in ltv_cac)


def test_every_customer_gets_a_predicted_value(cdnow_shop):
    [(rows, unknown, alive)] = query(
        cdnow_shop,
        """
        select count(*),
               count(*) filter (where customer_key not in (select customer_key from marts_build.dim_customers)),
               count(*) filter (where probability_alive between 0 and 1)
        from marts_build.fct_predicted_ltv
        """,
    )
    assert (rows, unknown, alive) == (2357, 0, 2357)
