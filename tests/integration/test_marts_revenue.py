"""Revenue and retention marts: MRR, its movements, monthly retention and cohort curves.

Two kinds of facts. The marts recover the churn the generator planted (world.py: a monthly hazard per segment,
raised by detractor NPS answers and SLA breaches, drawn at each renewal). And the marts agree with MRR recomputed
here in plain Python straight from the Stripe-shaped export files, without staging, dbt or SQL.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from tests.exports import read_fx, read_jsonl
from tests.warehouse import query

CENT = Decimal("0.01")
SEGMENTS = ("smb", "mid_market", "enterprise")


# -- MRR straight from the export files ---------------------------------------------------------------------------
@dataclass
class ExportedBilling:
    subscriptions: dict[str, dict]
    events: dict[str, list[dict]]  # subscription id -> its events, oldest first
    prices: dict[str, dict]
    lines: dict[str, list[tuple[dict, dict]]]  # subscription id -> (line, its invoice)
    coupons: dict[str, dict]
    fx: dict[str, list[tuple[date, Decimal]]]

    @classmethod
    def read(cls, exports: Path) -> ExportedBilling:
        folder = exports / "billing"
        events: dict[str, list[dict]] = defaultdict(list)
        for event in read_jsonl(folder, "subscription_events").values():
            events[event["data"]["object"]["id"]].append(event)
        for history in events.values():
            history.sort(key=lambda event: (event["created"], event["id"]))
        invoices = read_jsonl(folder, "invoices")
        lines: dict[str, list[tuple[dict, dict]]] = defaultdict(list)
        for line in read_jsonl(folder, "invoice_line_items").values():
            invoice = invoices.get(line["invoice"])
            if invoice is not None and line.get("subscription"):
                lines[line["subscription"]].append((line, invoice))
        return cls(
            read_jsonl(folder, "subscriptions"),
            events,
            read_jsonl(folder, "prices"),
            lines,
            read_jsonl(folder, "coupons"),
            read_fx(folder),
        )

    def rate(self, currency: str, day: date) -> Decimal:
        if currency == "USD":
            return Decimal(1)
        return [rate for rate_day, rate in self.fx[currency] if rate_day <= day][-1]

    def subscription_mrr(self, subscription: dict, snapshot: datetime) -> Decimal:
        """USD MRR of one subscription at the instant just before `snapshot` (the next month's start)."""
        at = snapshot.timestamp()
        if subscription["start_date"] >= at or (subscription.get("ended_at") or math.inf) < at:
            return Decimal(0)
        history = self.events.get(subscription["id"], [])
        before = [event for event in history if event["created"] < at]
        if before:
            state = before[-1]["data"]["object"]
            if before[-1]["type"].endswith(".deleted") or state["status"].strip().lower() not in ("active", "past_due"):
                return Decimal(0)
            quantity, price_id = state["quantity"], state["items"]["data"][0]["price"]["id"]
        elif history:  # the created event is missing: the first later event tells the state before it
            first = history[0]["data"]
            quantity = first.get("previous_attributes", {}).get("quantity", first["object"]["quantity"])
            price_id = first["object"]["items"]["data"][0]["price"]["id"]
        else:
            quantity, price_id = subscription["quantity"], subscription["items"]["data"][0]["price"]["id"]
        price = self.prices[price_id]
        months = {"month": 1, "year": 12}[price["recurring"]["interval"]] * price["recurring"].get("interval_count", 1)
        unit = Decimal(str(price.get("unit_amount_decimal") or price["unit_amount"])) / 100
        list_mrr = quantity * unit / months
        covering = [
            (line, invoice)
            for line, invoice in self.lines.get(subscription["id"], [])
            if line.get("type") == "subscription"
            and not line.get("proration")
            and invoice["status"].strip().lower() in ("open", "paid")
            and line["period"]["start"] < at <= line["period"]["end"]
        ]
        share = Decimal(0)
        if covering:
            line, invoice = max(covering, key=lambda pair: pair[0]["period"]["start"])
            coupon = self.coupons.get(((invoice.get("discount") or {}).get("coupon") or {}).get("id"), {})
            recurring = coupon.get("duration") in ("repeating", "forever") or (
                coupon.get("duration") == "once" and months > 1
            )
            discount = sum(Decimal(d["amount"]) for d in line.get("discount_amounts") or [])
            if recurring and line["amount"]:
                share = discount / Decimal(line["amount"])
        last_day = date.fromordinal(snapshot.date().toordinal() - 1)
        usd = list_mrr * (1 - share) * self.rate(price["currency"].strip().upper(), last_day)
        return usd.quantize(CENT, rounding=ROUND_HALF_UP)

    def customer_mrr(self, month: date) -> dict[str, Decimal]:
        """Billing customer -> USD MRR at the end of `month`, customers with MRR > 0 only."""
        snapshot = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for subscription in self.subscriptions.values():
            totals[subscription["customer"]] += self.subscription_mrr(subscription, snapshot)
        return {customer: mrr for customer, mrr in totals.items() if mrr > 0}


@pytest.fixture(scope="module")
def exported(marts_world) -> ExportedBilling:
    return ExportedBilling.read(marts_world[1])


# -- MRR equals the billing exports -------------------------------------------------------------------------------
def test_total_mrr_at_every_month_end_equals_the_exports_to_the_cent(marts_world, exported):
    """Finance's MRR line: each month-end total in the mart is the sum over subscriptions of quantity × unit price,
    yearly ÷ 12, less recurring discounts, at the month-end FX rate, rounded to the cent per subscription, as
    recomputed here from the export files. Exact: both sides round each subscription once, the same way."""
    url, _, _ = marts_world
    mart = dict(query(url, "select month, closing_mrr from marts.fct_revenue_retention_monthly where segment = 'all'"))
    assert len(mart) == 12
    for month, closing in sorted(mart.items()):
        assert closing == sum(exported.customer_mrr(month).values()), month


def test_nrr_grr_and_logo_churn_for_a_month_equal_the_exports(marts_world, exported):
    """September 2025 (the month with the most churned MRR) recomputed from two month-end snapshots of the export
    files: NRR = the opening customers' closing MRR ÷ their opening MRR, GRR caps each at its opening, logo churn =
    opening customers at 0 ÷ opening customers. Each billing customer is one customer here, as the identity mart
    makes it in this world (checked below); ratios compared at the mart's 4 decimal places."""
    url, _, _ = marts_world
    september, august = exported.customer_mrr(date(2025, 9, 1)), exported.customer_mrr(date(2025, 8, 1))
    opening = sum(august.values())
    closing = sum(september.get(customer, Decimal(0)) for customer in august)
    capped = sum(min(september.get(customer, Decimal(0)), mrr) for customer, mrr in august.items())
    lost = sum(1 for customer in august if customer not in september)
    row = query(
        url,
        """
        select net_revenue_retention, gross_revenue_retention, logo_churn_rate, customers_at_start,
            churned_customers, opening_mrr
        from marts.fct_revenue_retention_monthly where segment = 'all' and month = '2025-09-01'
        """,
    )[0]
    four = Decimal("0.0001")
    assert row[5] == opening
    assert row[3:5] == (len(august), lost)
    assert row[0] == (closing / opening).quantize(four, rounding=ROUND_HALF_UP)
    assert row[1] == (capped / opening).quantize(four, rounding=ROUND_HALF_UP)
    assert row[2] == (Decimal(lost) / len(august)).quantize(four, rounding=ROUND_HALF_UP)
    assert row[1] <= 1 and lost > 0


def test_subscription_mrr_agrees_with_the_invoice_billing_the_month_end(exported):
    """MRR is rebuilt from subscription state (events × prices); the invoices are the other witness. For every
    month-end and subscription whose covering invoice line carries no coupon, the line's amount (÷ 12 for yearly
    prices) at the same FX rate is the same MRR, within 1 cent (the invoice is rounded to minor units in the
    customer's currency, the price is exact to 6 decimals). Coupon lines are left out: the generator grosses their
    subtotal up above quantity × unit price, which real Stripe invoices never do."""
    compared = 0
    for month in (date(2025, m, 1) for m in range(1, 13)):
        snapshot = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)
        at, last_day = snapshot.timestamp(), date.fromordinal(snapshot.date().toordinal() - 1)
        for subscription in exported.subscriptions.values():
            mrr = exported.subscription_mrr(subscription, snapshot)
            covering = [
                (line, invoice)
                for line, invoice in exported.lines.get(subscription["id"], [])
                if invoice["status"].strip().lower() in ("open", "paid")
                and line["period"]["start"] < at <= line["period"]["end"]
            ]
            if mrr == 0 or not covering or any(invoice.get("discount") for _, invoice in covering):
                continue
            line, _ = max(covering, key=lambda pair: pair[0]["period"]["start"])
            price = exported.prices[line["price"]["id"]]
            months = 12 if price["recurring"]["interval"] == "year" else 1
            billed = Decimal(line["amount"]) / 100 / months * exported.rate(line["currency"].strip().upper(), last_day)
            assert abs(billed - mrr) <= CENT, (subscription["id"], month, billed, mrr)
            compared += 1
    assert compared > 2000


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
def expected_churn_band(truth: dict, segment: str) -> tuple[float, float]:
    """Range of the planted monthly logo churn of a segment, before sampling noise.

    A monthly-plan customer leaves at a renewal with the segment's base hazard, × 2 while its latest NPS answer is
    a detractor's and × 1.5 per SLA breach in the month before. Breaches: 0.69 tickets a month, 10% of them
    breached (Support.priorities), so E[1.5^B] = exp(0.069 × 0.5) ≈ 1.035. NPS is asked every third month,
    answered 40% of the time, 25% detractors: the detractor factor grows from 1 (no answer yet) to at most
    1 + 0.25 = 1.25. Annual-plan customers (planted share 20%) renew after twelve months, beyond this one-year
    window, so they cannot churn here and dilute the rate by 0.8."""
    retention, billing = truth["truth"]["retention"], truth["truth"]["billing"]
    base = next(s["monthly_churn"] for s in truth["truth"]["segments"] if s["name"] == segment)
    monthly_share = 1 - billing["annual_plan_share"]
    breach_share = sum(p["share"] * p["breach_rate"] for p in truth["truth"]["support"]["priorities"])
    tickets = sum(kind["monthly_rate"] for kind in truth["truth"]["support"]["kinds"])
    breach_factor = math.exp(tickets * breach_share * (retention["breach_churn_multiplier"] - 1))
    detractor_share = sum(truth["truth"]["survey"]["nps_weights"][:7])
    most_detractor = 1 + detractor_share * (retention["detractor_churn_multiplier"] - 1)
    return base * monthly_share * breach_factor, base * monthly_share * breach_factor * most_detractor


def pooled_churn(url: str) -> dict[str, tuple[int, int]]:
    rows = query(
        url,
        """
        select segment, sum(churned_customers), sum(customers_at_start)
        from marts.fct_revenue_retention_monthly group by segment
        """,
    )
    return {segment: (int(lost), int(at_start)) for segment, lost, at_start in rows}


def test_logo_churn_by_segment_recovers_the_planted_hazards(marts_world):
    """Churn pooled over the year (customers lost ÷ customer-months active at a month's start) lies in each
    segment's planted band (expected_churn_band) widened by 3 binomial standard errors of the customer-months
    observed: about ±0.015 for smb (≈1,400 customer-months), ±0.016 for mid_market (≈600) and ±0.017 for
    enterprise (≈300), where a rate twice the planted one would already fail for smb. The whole book, where noise
    is smallest, must match the sum of the segments' expected churned customers within 3 Poisson σ."""
    url, _, truth = marts_world
    pooled = pooled_churn(url)
    expected_total_low = expected_total_high = 0.0
    for segment in SEGMENTS:
        lost, at_start = pooled[segment]
        low, high = expected_churn_band(truth, segment)
        margin = 3 * math.sqrt(high * (1 - high) / at_start)
        assert max(0.0, low - margin) <= lost / at_start <= high + margin, (segment, lost, at_start, low, high)
        expected_total_low += low * at_start
        expected_total_high += high * at_start
    lost_all = pooled["all"][0]
    assert expected_total_low - 3 * math.sqrt(expected_total_low) <= lost_all
    assert lost_all <= expected_total_high + 3 * math.sqrt(expected_total_high)


def test_smaller_customers_churn_more(marts_world):
    """smb (planted 4%) churns more than mid_market (2%) and enterprise (1%), each by a clear margin. Between
    mid_market and enterprise the planted gap (≈0.009 a month) is smaller than the noise of ≈300 enterprise
    customer-months (σ ≈ 0.006), so the test only asks that enterprise does not exceed mid_market by more than
    2.5 σ of the difference (≈0.019 here): enterprise churning like smb would fail it. In this world enterprise
    measures 5 of 290 (1.7%) against mid_market's 7 of 623 (1.1%), a reversal well inside the noise."""
    url, _, _ = marts_world
    pooled = pooled_churn(url)
    rate = {segment: lost / at_start for segment, (lost, at_start) in pooled.items()}
    assert rate["smb"] > 2 * rate["mid_market"]
    assert rate["smb"] > 1.5 * rate["enterprise"]
    mid_n, ent_n = pooled["mid_market"][1], pooled["enterprise"][1]
    sigma = math.sqrt(rate["mid_market"] / mid_n + rate["mid_market"] / ent_n)
    assert rate["enterprise"] - rate["mid_market"] < 2.5 * sigma


def test_annual_plans_do_not_churn_inside_their_paid_year(marts_world, exported):
    """Annual-plan customers can only leave at the renewal, twelve months after signing, which this one-year
    window never reaches: none of them shows a churn movement."""
    url, _, _ = marts_world
    churned = {
        key for (key,) in query(url, "select customer_key from marts.fct_mrr_movements where movement_type = 'churn'")
    }
    identity = dict(
        query(
            url,
            """
            select source_id, customer_key from intermediate.int_customer_identity
            where source_system = 'billing_customer'
            """,
        )
    )
    annual = {
        identity[s["customer"]]
        for s in exported.subscriptions.values()
        if exported.prices[s["items"]["data"][0]["price"]["id"]]["recurring"]["interval"] == "year"
    }
    assert len(annual) > 50
    assert churned and not churned & annual


def test_each_billing_customer_is_one_customer(marts_world, exported):
    """The Python cross-checks count billing customers; the marts count customer_keys. In this world identity
    maps them one to one, so the counts must agree (if identity ever merged two billing customers, this says why
    the cross-checks differ)."""
    url, _, _ = marts_world
    customers = query(url, "select count(distinct customer_key) from marts.fct_mrr_movements")[0][0]
    assert customers == len({s["customer"] for s in exported.subscriptions.values()})
