"""Revenue and retention marts: MRR, its movements, monthly retention and cohort curves.

Two kinds of facts. The marts equal, to the cent, the MRR the generator realised: truth.json records each
subscription's USD MRR at every month-end by docs/metrics.md's definition, from the simulated lives, never from the
export files or the warehouse's SQL; NRR, GRR and logo churn are computed (tests/revenue_oracle.py) from those
month-ends by the definitions in docs/metrics.md. And the churn the marts count is what the planted hazards
(world.py: a monthly hazard per segment, raised by detractor NPS answers and SLA breaches, drawn at each renewal)
make likely, within the sampling error of the renewals drawn.
"""

from __future__ import annotations

import math
import shutil
import uuid
from decimal import Decimal

from tealeaves.config import PROJECT_ROOT
from tealeaves.quality.gate import run_gate
from tests.revenue_oracle import (
    SEGMENTS,
    realised_retention,
    realised_subscriptions,
    realised_total_mrr,
    true_customer_key,
)
from tests.warehouse import query


# -- MRR and retention equal the realised truth -------------------------------------------------------------------
def test_total_mrr_at_every_month_end_equals_the_realised_mrr(marts_world):
    """Finance's MRR line: each month-end total in the mart is the sum of every subscription's realised month-end
    MRR in truth.json (yearly ÷ 12, after recurring discounts), to the cent. Exact, because both sides round each
    subscription once, and what the export rounds (prices to 6 decimals, invoices to minor units, from which the
    mart takes a discount's share) moves a subscription's MRR by at most 0.32 cent × the FX rate, never across
    the half cent from a truth that sits on a whole cent (or a third of one, for yearly plans). Only a yearly
    save offer whose exact MRR ends in half a cent could round either way; this world has none."""
    url, _, truth = marts_world
    mart = dict(query(url, "select month, closing_mrr from marts.fct_revenue_retention_monthly where segment = 'all'"))
    assert len(mart) == 12
    assert mart == realised_total_mrr(truth)


def test_nrr_grr_logo_churn_and_their_bases_equal_the_realised_mrr(marts_world):
    """Every month and segment (and the whole book) of fct_revenue_retention_monthly: opening and closing MRR,
    customers active at the start and lost, NRR, GRR and logo churn, as docs/metrics.md defines them, computed from
    the realised month-end MRR of each customer's true company (realised_retention), exactly."""
    url, _, truth = marts_world
    mart = {
        (month, segment): tuple(rest)
        for month, segment, *rest in query(
            url,
            """
            select month, segment, opening_mrr, closing_mrr, customers_at_start, churned_customers,
                net_revenue_retention, gross_revenue_retention, logo_churn_rate
            from marts.fct_revenue_retention_monthly
            """,
        )
    }
    expected = realised_retention(truth)
    # every month; each segment from its first customer's month on, and the whole book (the keys are compared below)
    assert len({month for month, _ in mart}) == 12
    assert {key: row for key, row in mart.items() if row != expected.get(key)} == {}
    assert set(mart) == set(expected)
    assert sum(row[3] for (_, segment), row in expected.items() if segment == "all") > 20, "churn is compared"


# -- The bridge ---------------------------------------------------------------------------------------------------
def test_every_customer_month_bridges_opening_to_closing(marts_world):
    """opening + new + reactivation + expansion − contraction − churn = closing on every row, with movements ≥ 0,
    each row's opening is the previous month's closing, and only the customer's first month is 'new'."""
    url, _, _ = marts_world
    broken = query(
        url,
        """
        select customer_key, month from (
            select *, lag(closing_mrr) over (partition by customer_key order by month) as previous_closing,
                row_number() over (partition by customer_key order by month) as nth
            from marts.fct_mrr_movements
        ) as rows
        where opening_mrr + new_mrr + reactivation_mrr + expansion_mrr - contraction_mrr - churned_mrr <> closing_mrr
            or least(new_mrr, reactivation_mrr, expansion_mrr, contraction_mrr, churned_mrr) < 0
            or opening_mrr <> coalesce(previous_closing, 0)
            or (movement_type = 'new') <> (nth = 1)
        """,
    )
    assert broken == []
    assert query(url, "select count(*) from marts.fct_mrr_movements")[0][0] > 2000


def test_monthly_movements_sum_to_the_change_in_total_mrr(marts_world):
    """Month by month, the movements add up to the change in the whole book's MRR, and each month opens where
    the previous one closed (the customer-level mart, its monthly roll-up and the segment rows all agree)."""
    url, _, _ = marts_world
    months = query(
        url,
        """
        select month, sum(closing_mrr), sum(opening_mrr),
            sum(new_mrr + reactivation_mrr + expansion_mrr - contraction_mrr - churned_mrr)
        from marts.fct_mrr_movements group by month order by month
        """,
    )
    previous_closing = Decimal(0)
    for month, closing, opening, movements in months:
        assert opening == previous_closing, month
        assert closing - opening == movements, month
        previous_closing = closing
    rollup = query(
        url,
        """
        select month, sum(closing_mrr) filter (where segment = 'all'), sum(closing_mrr) filter (where segment <> 'all')
        from marts.fct_revenue_retention_monthly group by month order by month
        """,
    )
    assert [(m, c) for m, c, _ in rollup] == [(m, c) for m, c, *_ in months]
    assert all(whole == by_segment for _, whole, by_segment in rollup)


def test_cohort_curves_start_whole_and_count_the_cohort_once(marts_world):
    """Every cohort starts at 100% logo and revenue retention, its size is the customers whose first paid month
    it is, and the sizes add up to every customer who ever paid."""
    url, _, _ = marts_world
    starts = query(
        url,
        """
        select cohort_month, cohort_customers, logo_retention, revenue_retention
        from marts.fct_cohort_retention where months_since_start = 0 order by 1
        """,
    )
    new_by_month = dict(
        query(url, "select month, new_customers from marts.fct_revenue_retention_monthly where segment = 'all'")
    )
    assert all(logo == revenue == 1 for _, _, logo, revenue in starts)
    assert {cohort: size for cohort, size, *_ in starts} == {m: n for m, n in new_by_month.items() if n}
    customers = query(url, "select count(distinct customer_key) from marts.fct_mrr_movements")[0][0]
    assert sum(size for _, size, *_ in starts) == customers


# -- Planted churn ------------------------------------------------------------------------------------------------
def pooled_churn(url: str) -> dict[str, tuple[int, int]]:
    rows = query(
        url,
        """
        select segment, sum(churned_customers), sum(customers_at_start)
        from marts.fct_revenue_retention_monthly group by segment
        """,
    )
    return {segment: (int(lost), int(at_start)) for segment, lost, at_start in rows}


def test_churn_by_segment_is_what_the_planted_hazards_make_likely(marts_world):
    """Each renewal before the export's end drew churn with probability p = the segment's planted hazard × 2 while
    the customer's latest NPS answer was a detractor's × 1.5 per SLA breach in the month before (world.Retention);
    truth.json sums those p per segment (realised.billing.churn_draws), given the answers and breaches that really
    happened. The churns are then a sum of independent-given-the-past Bernoulli draws: mean Σp, variance Σp(1 - p),
    so the count the marts show must lie within 3 of its standard deviations of Σp (3σ, not a wider band: the
    variance is the draws' own). The count itself is the truth's, exactly: the marts see every churn drawn."""
    url, _, truth = marts_world
    pooled = pooled_churn(url)
    draws = truth["realised"]["billing"]["churn_draws"]
    for segment in SEGMENTS:
        lost, _ = pooled[segment]
        drawn = draws[segment]
        assert lost == drawn["churned"], segment
        assert abs(lost - drawn["expected_churns"]) <= 3 * math.sqrt(drawn["variance"]), (segment, lost, drawn)
    assert pooled["all"][0] == sum(d["churned"] for d in draws.values()) > 20


def test_smaller_customers_churn_more(marts_world):
    """smb (planted hazard 2.5% a month) churns more than mid_market (0.5%) and enterprise (0.3%), each by a clear
    margin. Between mid_market and enterprise the planted gap (0.2 points a month) is far smaller than the noise
    of a few hundred enterprise customer-months, so the test only asks that enterprise does not exceed
    mid_market by more than 2.5 σ of the difference: enterprise churning like smb would fail it."""
    url, _, _ = marts_world
    pooled = pooled_churn(url)
    rate = {segment: lost / at_start for segment, (lost, at_start) in pooled.items()}
    assert rate["smb"] > 2 * rate["mid_market"]
    assert rate["smb"] > 1.5 * rate["enterprise"]
    mid_n, ent_n = pooled["mid_market"][1], pooled["enterprise"][1]
    sigma = math.sqrt(rate["mid_market"] / mid_n + rate["mid_market"] / ent_n)
    assert rate["enterprise"] - rate["mid_market"] < 2.5 * sigma


def test_annual_plans_do_not_churn_inside_their_paid_year(marts_world):
    """Annual-plan customers can only leave at the renewal, twelve months after signing, which this one-year
    window never reaches: none of them shows a churn movement."""
    url, _, truth = marts_world
    churned = {
        key for (key,) in query(url, "select customer_key from marts.fct_mrr_movements where movement_type = 'churn'")
    }
    annual = {true_customer_key(truth, s["customer"]) for s in realised_subscriptions(truth) if s["interval"] == "year"}
    assert len(annual) > 50
    assert churned and not churned & annual


def test_each_billing_customer_is_its_true_company(marts_world):
    """Identity puts every billing customer on the CRM company the generator made it for (truth.json's
    realised.billing.customer_company), whether the export carried its CRM id or not, and the revenue marts count
    exactly those companies: no two merged, none split, none left as a billing-only customer."""
    url, _, truth = marts_world
    true_companies = truth["realised"]["billing"]["customer_company"]
    identity = {
        source_id: (company, key)
        for source_id, company, key in query(
            url,
            """
            select source_id, crm_company_id, customer_key from intermediate.int_customer_identity
            where source_system = 'billing_customer'
            """,
        )
    }
    assert identity == {customer: (company, f"crm:{company}") for customer, company in true_companies.items()}
    customers = {key for (key,) in query(url, "select distinct customer_key from marts.fct_mrr_movements")}
    assert customers == {f"crm:{company}" for company in true_companies.values()}


# -- MRR and the invoices ---------------------------------------------------------------------------------------------
def test_mrr_agrees_with_the_paid_invoices_spread_over_their_service_periods(marts_world, tmp_path):
    """The reconciliation warning (expectations/marts/fct_mrr_movements_invoices.py: month-end MRR within 10% of the
    paid subscription invoices for the month) is evaluated on the generated world and stays quiet. Its invoices
    carry Stripe's periods: a renewal invoice's period_start/period_end look back over the month just ended, the
    line's period is the service billed; spread over the invoice-level period, most months would be a month off."""
    url, _, _ = marts_world
    shutil.copy(PROJECT_ROOT / "expectations" / "marts" / "fct_mrr_movements_invoices.py", tmp_path)
    result = run_gate(url, "marts", f"test__{uuid.uuid4().hex}", suites_dir=tmp_path)
    [suite] = result.suites
    assert suite.error is None and suite.outcomes
    assert [o.describe() for o in suite.outcomes if not o.success or o.error] == []
