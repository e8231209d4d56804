"""A real shop with one-off purchases only - billing exports, no subscriptions, CRM, help desk or surveys - gets
through the whole dbt project, its predictive LTV is the published one, and its reports show the figures it has.

The shop is CDNOW (include/tealeaves/samples/cdnow): `tealeaves sample cdnow` writes its 2,357 customers' CD
purchases to 30 September 1997 as Stripe-shaped billing exports; they are loaded, built and fitted as the daily
DAG does (dbt without the predicted marts, predict_ltv, dbt for the predicted marts, publish), as of that day,
with one `tealeaves ltv backtest` (fitted to 30 June, predicting July to September) before the marts. Oracles
from outside the code: Fader, Hardie & Lee's published BG/NBD fit and Fader & Hardie's Gamma-Gamma fit of the
same 39 weeks (as in tests/unit/test_ltv_cdnow.py), and the sample file itself for customers and dollars.
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from tealeaves.ltv.store import predict_ltv, run_backtest
from tealeaves.publish import publish_marts
from tealeaves.samples.cdnow import CALIBRATION_END, transactions, write_billing_exports
from tests.conftest import DAILY_BUILD, DAILY_PREDICTED_BUILD, TEALEAVES, create_database, dbt_build
from tests.integration.test_report_html import chart_specs, open_offline, run_report
from tests.integration.test_report_numbers import printed_tables
from tests.warehouse import query

AS_OF = {"ltv_as_of": CALIBRATION_END.isoformat()}
BACKTEST_END = date(1997, 6, 30)  # the backtest's calibration end: it predicts July to September
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
    dbt_build(url, DAILY_BUILD, folder / "dbt", AS_OF)
    predict_ltv(url, "oneoff_cdnow")
    run_backtest(url, "oneoff_cdnow", BACKTEST_END, CALIBRATION_END)
    dbt_build(url, DAILY_PREDICTED_BUILD, folder / "dbt-predicted", AS_OF)
    publish_marts(url)
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
        "from marts.ltv_model_fit where fit_kind = 'pipeline'",
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
        from marts.dim_customers
        """,
    )
    assert rows == unknown == unmatched == 2357
    assert revenue == sum(t.dollars for t in calibration())
    acquired = dict(query(cdnow_shop, "select customer_key, acquired_at::date from marts.dim_customers"))
    assert acquired == first_purchase_days()


def test_subscription_marts_are_empty_not_failed(cdnow_shop):
    """No subscription, so no MRR: the marts built on it exist (their tests passed) and hold no row."""
    for mart in SUBSCRIPTION_MARTS:
        assert query(cdnow_shop, f"select count(*) from marts.{mart}") == [(0,)], mart


def test_historical_ltv_marts_have_every_customer_and_cohort(cdnow_shop):
    """fct_customer_lifetime_value holds every customer with their revenue; fct_cohort_lifetime_value and
    fct_ltv_cac one row per first-purchase month (all in Q1 1997, as the sample was drawn), with the sample's
    customer counts; historical LTV (margin earned) is null, not 0: without subscriptions or a cost ledger no
    gross margin is known."""
    by_month = Counter(day.replace(day=1) for day in first_purchase_days().values())
    [(customers, revenue, with_historical)] = query(
        cdnow_shop,
        "select count(*), sum(lifetime_revenue_usd), count(historical_ltv_usd) from marts.fct_customer_lifetime_value",
    )
    assert (customers, revenue, with_historical) == (2357, sum(t.dollars for t in calibration()), 0)
    cohorts = query(
        cdnow_shop,
        "select cohort_month, customers, historical_ltv_usd from marts.fct_cohort_lifetime_value "
        "where acquisition_channel = 'UNKNOWN'",
    )
    assert {month: n for month, n, _ in cohorts} == dict(by_month)
    assert all(historical is None for _, _, historical in cohorts)
    ltv_cac = query(
        cdnow_shop,
        "select cohort_month, customers, customers_with_predicted_clv, predicted_clv_per_customer_usd "
        "from marts.fct_ltv_cac",
    )
    assert {month: n for month, n, _, _ in ltv_cac} == dict(by_month)
    assert all(n == valued and clv > 0 for _, n, valued, clv in ltv_cac)


def test_every_customer_gets_a_predicted_value(cdnow_shop):
    [(rows, unknown, alive)] = query(
        cdnow_shop,
        """
        select count(*),
               count(*) filter (where customer_key not in (select customer_key from marts.dim_customers)),
               count(*) filter (where probability_alive between 0 and 1)
        from marts.fct_predicted_ltv
        """,
    )
    assert (rows, unknown, alive) == (2357, 0, 2357)


# -- the reports ---------------------------------------------------------------------------------------------------
def customers_first_buying_in(month: date) -> int:
    return sum(1 for day in first_purchase_days().values() if day.replace(day=1) == month)


def holdout_purchase_days() -> int:
    """Purchase days in the backtest's holdout of the customers who had bought by its calibration end."""
    known = {key for key, day in first_purchase_days().items() if day <= BACKTEST_END}
    return len(
        {
            (key, t.day)
            for t in calibration()
            if t.day > BACKTEST_END and (key := f"billing:cus_cdnow{t.sample_id:09d}") in known
        }
    )


def test_the_terminal_report_shows_the_headlines_a_shop_without_subscriptions_has(cdnow_shop, tmp_path):
    """`tealeaves report` used to stop at "no complete month of subscription revenue"; September 1997 is the
    latest complete month of a shop whose purchases run to 30 September."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEALEAVES_", "AIRFLOW"))}
    env.update(TEALEAVES_HOME=str(tmp_path / "home"), TEALEAVES_DATABASE_URL=cdnow_shop, COLUMNS="250")
    result = subprocess.run([TEALEAVES, "report"], env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "Headline metrics, September 1997" in result.stdout
    headline = {row[0]: row[1] for row in printed_tables(result.stdout)[0][1:]}
    customers = len(first_purchase_days())
    assert headline == {
        "New customers": str(customers_first_buying_in(date(1997, 9, 1))),
        "Predicted CLV": headline["Predicted CLV"],  # checked against the marts in the HTML test below
        "Revenue per customer": f"{sum(t.dollars for t in calibration()) / customers:,.2f} USD",
        "Repeat buyers": f"{100 * 946 / customers:.1f}%",  # Fader & Hardie's 946 repeat customers
    }
    # The predicted LTV table's caption speaks of this shop's purchases over the fit's own horizon, not of the
    # add-ons and subscription value of a subscription business.
    [(horizon, rate)] = query(
        cdnow_shop, "select horizon_months, monthly_discount_rate from marts.ltv_model_fit where fit_kind = 'pipeline'"
    )
    text = " ".join(result.stdout.split())
    assert f"predicted CLV of purchases over the next {horizon} months, discounted {rate * 100:.2f}% a month" in text
    assert "add-ons" not in text and "formula LTV above" not in text


@pytest.fixture(scope="module")
def html_report(cdnow_shop, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("report-html")
    result = run_report(cdnow_shop, folder / "home", folder / "report.html")
    assert result.returncode == 0, result.stderr
    return folder / "report.html"


def test_the_html_report_shows_the_shops_figures_and_names_the_subscription_ones_it_has_none_of(
    cdnow_shop, html_report, offline_page
):
    page, log = offline_page
    open_offline(page, html_report)
    assert log.outside_requests == [] and log.console_errors == [] and log.page_errors == []
    assert page.locator(".headlines").get_attribute("data-month") == "1997-09-01"
    notes = page.locator("[data-note]").evaluate_all("notes => notes.map(n => n.dataset.note)")
    assert set(notes) == {
        "headlines",
        "mrr_movements",
        "cohort_retention",
        "ltv_cac_by_channel",
        "nps_csat",
        "sla_attainment",
    }, "a line for each chart without data, none for what the shop has"

    def tile(key: str) -> tuple[float, str]:
        found = page.locator(f'.tile[data-metric="{key}"]')
        return float(found.get_attribute("data-value")), found.locator(".value").inner_text()

    customers = len(first_purchase_days())
    revenue = sum(t.dollars for t in calibration()) / customers
    assert tile("new_customers") == (customers_first_buying_in(date(1997, 9, 1)), "0")
    assert tile("revenue_per_customer") == (pytest.approx(float(revenue)), f"{revenue:,.2f} USD")
    assert tile("repeat_buyers")[1] == f"{100 * 946 / customers:.1f}%"
    [(predicted, valued)] = query(
        cdnow_shop,
        "select sum(predicted_clv_usd), count(*) from marts.fct_predicted_ltv",
    )
    clv, shown = tile("predicted_clv")
    assert valued == customers and clv == pytest.approx(float(predicted) / customers, abs=0.01)
    assert shown.endswith(" USD")

    note = page.locator('[data-note="headlines"]')
    absent = set(note.get_attribute("data-absent").split())
    assert {"mrr", "nrr", "grr", "formula_ltv"} <= absent
    assert note.is_visible() and page.locator('[data-note="headlines"]').count() == 1
    assert page.locator(".tile").count() == 4
    assert not absent & {m for m in page.locator(".tile").evaluate_all("ts => ts.map(t => t.dataset.metric)")}


def test_the_html_report_shows_the_ltv_fit_its_backtest_and_the_predicted_clv_of_every_customer(
    cdnow_shop, html_report, offline_page
):
    page, log = offline_page
    open_offline(page, html_report)
    assert log.outside_requests == [] and log.console_errors == [] and log.page_errors == []

    def fact(key: str) -> tuple[str | None, str]:
        row = page.locator(f'[data-facts="predicted_ltv"] [data-fact="{key}"]')
        return row.get_attribute("data-value"), row.locator("td").inner_text()

    customers = len(first_purchase_days())
    assert fact("as_of_date")[0] == CALIBRATION_END.isoformat()
    assert fact("n_customers") == (str(customers), f"{customers:,}")
    assert fact("n_repeat_customers")[0] == "946"
    assert fact("converged")[0] == "true"
    [(ratio, actual, mae)] = query(
        cdnow_shop,
        "select holdout_error_ratio, holdout_actual_transactions, holdout_mean_absolute_error"
        " from marts.ltv_model_fit where fit_kind = 'backtest'",
    )
    error, shown = fact("holdout_error")
    assert float(error) == float(ratio) and shown.startswith(f"{ratio * 100:+.1f}%")
    assert actual == holdout_purchase_days() and f"against {actual:,} actual purchase days" in shown
    assert float(fact("holdout_mae")[0]) == float(mae)

    spec = chart_specs(html_report.read_text())["predicted_ltv"]
    histogram, by_channel = (chart["data"]["values"] for chart in spec["hconcat"])
    assert sum(row["customers"] for row in histogram) == customers
    for row in histogram:
        upper = "" if row["upper_usd"] is None else f" and predicted_clv_usd < {row['upper_usd']}"
        [(n,)] = query(
            cdnow_shop,
            f"select count(*) from marts.fct_predicted_ltv where predicted_clv_usd >= {row['lower_usd']}{upper}",
        )
        assert row["customers"] == n, row
    assert [(row["channel"], row["customers"]) for row in by_channel] == [("UNKNOWN", customers)]
    bars = page.locator('[data-chart="predicted_ltv"] .mark-rect.role-mark path')
    assert bars.count() == len(histogram) + len(by_channel)
