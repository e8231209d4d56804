"""The published marts as the reports read them: each figure read and derived once, here, then shown as rich
tables in the terminal (`tealeaves report`) or charted in one HTML file (`tealeaves report --html`,
tealeaves.report_html)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

import psycopg
import yaml
from rich.table import Table

from tealeaves.config import Settings

if TYPE_CHECKING:  # the LTV model's imports (scipy) take a second and a half; the report needs only the type
    from tealeaves.ltv.store import FitRecord


def _read(settings: Settings, query: str, params: dict | None = None) -> list[dict]:
    """The rows of one query on the warehouse, each a dict by column name."""
    with psycopg.connect(settings.url()) as conn:
        cursor = conn.execute(query, params)
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


ACQUISITION_COST = """
select month, channel, spend, new_customers, cac, blended_cac
from marts.fct_acquisition_cost
where %(months)s::integer is null
    or month > (select max(month) from marts.fct_acquisition_cost) - make_interval(months => %(months)s::integer)
order by month, spend desc, channel
"""


def acquisition_costs(settings: Settings, months: int | None = None) -> list[dict]:
    """marts.fct_acquisition_cost, one row per month and channel: the last `months` months, or every month."""
    return _read(settings, ACQUISITION_COST, {"months": months})


def acquisition_cost_table(settings: Settings, months: int = 3) -> Table:
    """The last `months` months of marts.fct_acquisition_cost, one row per month and channel."""
    rows = acquisition_costs(settings, months)
    table = Table(title=f"Customer acquisition cost by channel (marts.fct_acquisition_cost, last {months} months)")
    for name, justify in [
        ("month", "left"),
        ("channel", "left"),
        ("spend USD", "right"),
        ("new customers", "right"),
        ("paid CAC USD", "right"),
    ]:
        table.add_column(name, justify=justify)
    for row in rows:
        shown_cac = "—" if row["cac"] is None else f"{row['cac']:,.2f}"
        table.add_row(
            row["month"].strftime("%Y-%m"), row["channel"], f"{row['spend']:,.2f}", str(row["new_customers"]), shown_cac
        )
    return table


def load_summary(settings: Settings) -> Table:
    """Per raw table: files and rows loaded so far, and rows quarantined with a reason."""
    with psycopg.connect(settings.url()) as conn:
        rows = conn.execute(
            """
            select source, entity, count(*), sum(rows_in), sum(rows_loaded), sum(rows_rejected)
            from raw.load_batches where status = 'loaded'
            group by source, entity order by source, entity
            """
        ).fetchall()
    table = Table(title="Loaded into raw (all batches; rejected rows are in raw.rejected_rows)")
    for name in ("source", "entity", "files", "rows in", "loaded", "rejected"):
        table.add_column(name, justify="left" if name in ("source", "entity") else "right")
    for row in rows:
        table.add_row(*(f"{v:,}" if isinstance(v, int) else str(v) for v in row))
    return table


def gate_verdict(settings: Settings, run_id: str) -> str:
    """One line: did the audited build pass, how many checks, and where the details are."""
    with psycopg.connect(settings.url()) as conn:
        checks, failed, warned = conn.execute(
            """
            select count(*),
                   count(*) filter (where not success and severity = 'blocking'),
                   count(*) filter (where not success and severity = 'warning')
            from quality.expectation_results where run_id = %s
            """,
            [run_id],
        ).fetchone()
    if not checks:
        return "no results recorded for this run"
    verdict = "[green]passed[/]" if not failed else f"[red]{failed} blocking failure(s)[/]"
    return f"{verdict}, {checks} expectations checked, {warned} warning(s); details in quality.expectation_results"


SLA_BY_MONTH = """
select s.month,
       sum(s.first_reply_sla_met)::numeric / nullif(sum(s.first_reply_sla_measured), 0) as first_reply_attainment,
       sum(s.resolution_sla_met)::numeric / nullif(sum(s.resolution_sla_measured), 0) as resolution_attainment,
       sum(s.tickets_created) as tickets
from marts.fct_support_performance_monthly as s
group by s.month
"""
"""SLA attainment per month over every priority and channel: the headline's latest month and the report's trend."""

SUBSCRIPTION_MONTH = """
select max(month) from marts.fct_revenue_retention_monthly where not is_partial_month and segment = 'all'
"""
"""The latest complete month of a business with subscriptions: its revenue mart says which months are whole."""

PURCHASE_LOG_MONTH = """
select (date_trunc('month', max(as_of_date) + 1) - interval '1 month')::date
from marts.ltv_model_fit where fit_kind = 'pipeline'
"""
"""The latest complete month of a business that sells one-off purchases only: the last month that had ended by
the as-of date of the daily LTV fit (the reporting date, or the end of the purchases), as docs/metrics.md says."""

HEADLINES = f"""
with latest as (
    select %(month)s::date as month
),
retention as (
    select r.* from marts.fct_revenue_retention_monthly as r, latest where r.month = latest.month and r.segment = 'all'
),
trailing_churn as (
    select sum(r.churned_customers)::numeric / nullif(sum(r.customers_at_start), 0) as monthly_logo_churn
    from marts.fct_revenue_retention_monthly as r, latest
    where r.segment = 'all' and r.month > latest.month - interval '12 months' and r.month <= latest.month
),
acquisition as (
    select sum(a.new_customers) as new_customers, sum(a.spend) as paid_spend,
           sum(a.spend) filter (where a.spend > 0)
               / nullif(sum(a.new_customers) filter (where a.spend > 0), 0) as paid_cac,
           case when sum(a.spend + a.allocated_sales_marketing_cost) > 0
               then sum(a.spend + a.allocated_sales_marketing_cost) / nullif(sum(a.new_customers), 0)
           end as blended_cac
    from marts.fct_acquisition_cost as a, latest where a.month = latest.month
),
acquisition_months as (  -- fct_acquisition_cost zero-fills the months from its first to its last new customer
    select max(month) as last_month from marts.fct_acquisition_cost
),
costs as (
    select c.* from marts.fct_acquisition_vs_retention_cost as c, latest
    where c.month = latest.month and c.segment = 'all'
),
margin as (
    select g.* from marts.fct_gross_margin as g, latest where g.month = latest.month
),
voice as (
    select v.* from marts.fct_nps_monthly as v, latest where v.month = latest.month and v.segment = 'all'
),
support as (
    select s.* from ({SLA_BY_MONTH}) as s, latest where s.month = latest.month
)
select
    latest.month,
    -- after the last month with a new customer nobody was won: 0, not unknown (a one-off shop's later months)
    case when latest.month > acquisition_months.last_month then 0 else acquisition.new_customers end
        as new_customers, acquisition.paid_spend, acquisition.paid_cac,
    -- fct_acquisition_vs_retention_cost needs subscriptions (customers retained); without them the month's
    -- sales & marketing cost is read where it is recorded, per channel
    coalesce(costs.cac, acquisition.blended_cac) as blended_cac,
    costs.cac / nullif(margin.arpa_usd * margin.gross_margin_pct, 0) as payback_months,
    retention.closing_mrr, retention.net_revenue_retention, retention.gross_revenue_retention,
    retention.logo_churn_rate, trailing_churn.monthly_logo_churn,
    margin.arpa_usd, margin.gross_margin_pct,
    case  -- the expected lifetime 1 ÷ churn, capped as fct_customer_lifetime_value caps it
        when trailing_churn.monthly_logo_churn * %(max_lifetime)s > 1
            then margin.arpa_usd * margin.gross_margin_pct / trailing_churn.monthly_logo_churn
        when trailing_churn.monthly_logo_churn >= 0 then margin.arpa_usd * margin.gross_margin_pct * %(max_lifetime)s
    end as formula_ltv,
    costs.cost_to_retain, costs.acquisition_to_retention_cost_ratio,
    voice.nps, voice.nps_responses, voice.csat, voice.csat_responses,
    support.first_reply_attainment, support.resolution_attainment, support.tickets
from latest
cross join trailing_churn
cross join acquisition
cross join acquisition_months
-- a business without subscriptions, a help desk, surveys or a cost ledger still has the headlines it has
left join retention on true
left join costs on true
left join margin on true
left join voice on true
left join support on true
"""


def _money(value) -> str:
    return "—" if value is None else f"{value:,.2f} USD"


def _share(value) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _number(value, digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def ltv_max_lifetime_months(settings: Settings) -> int:
    """Formula LTV's cap on the expected lifetime: the dbt var the LTV marts use, so the headline agrees with them."""
    project = yaml.safe_load((settings.dbt_project_dir / "dbt_project.yml").read_text())
    return int(project["vars"]["ltv_max_lifetime_months"])


TRAILING_RETENTION = """
select r.net_revenue_retention, r.gross_revenue_retention
from marts.fct_revenue_retention_monthly as r
where r.segment = 'all' and not r.is_partial_month and r.net_revenue_retention is not null
    and r.month > %(latest)s::date - interval '12 months' and r.month <= %(latest)s::date
order by r.month
"""


def annualised(monthly: list) -> float | None:
    """The monthly rates compounded over the months given (at most 12), raised to 12 ÷ their number: the yearly
    rate they amount to, comparable with annual NRR/GRR benchmarks (docs/metrics.md)."""
    return math.prod(float(rate) for rate in monthly) ** (12 / len(monthly)) if monthly else None


@dataclass(frozen=True)
class Metric:
    """One headline figure: as shown, how it is defined, and its value (None when it has no single number)."""

    key: str
    label: str
    shown: str
    how: str
    value: float | None = None


@dataclass(frozen=True)
class Headlines:
    """The latest complete month's headline metrics, in the order the report shows them, and the ones the marts
    have no figure for (`absent`, with the reason in `absent_note`), which are left out rather than shown as "—"."""

    month: date
    metrics: list[Metric]
    absent: list[Metric] = field(default_factory=list)
    absent_note: str | None = None


def _float(value) -> float | None:
    return None if value is None else float(value)


PURCHASE_LOG = """
select
    (select sum(predicted_clv_per_customer_usd * customers)
         / nullif(sum(customers) filter (where predicted_clv_per_customer_usd is not null), 0)
     from marts.fct_ltv_cac) as predicted_clv,
    (select avg(lifetime_revenue_usd) from marts.fct_customer_lifetime_value) as revenue_per_customer,
    fit.n_repeat_customers::numeric / nullif(fit.n_customers, 0) as repeat_buyers,
    fit.as_of_date as fit_as_of
from (select 1) as one
left join lateral (
    select f.n_customers, f.n_repeat_customers, f.as_of_date from marts.ltv_model_fit as f
    where f.fit_kind = 'pipeline' order by f.as_of_date desc nulls last, f.fit_id desc limit 1
) as fit on true
"""
"""What a business without subscriptions has in place of MRR and formula LTV: the predicted CLV of its
purchases per customer (fct_ltv_cac, as the predicted table pools it), revenue per customer to date, and the
share of customers who came back (the latest daily LTV fit)."""

SUBSCRIPTION_METRICS = (  # figures of recurring revenue, its margin or the customers it retains
    "payback_months",
    "mrr",
    "nrr",
    "grr",
    "nrr_grr_annualised",
    "logo_churn",
    "arpa_margin",
    "formula_ltv",
    "ltv_cac",
    "cost_to_retain",
    "cac_to_retention_cost",
)


def _has(conn: psycopg.Connection, relation: str) -> bool:
    return conn.execute("select to_regclass(%s)", [relation]).fetchone()[0] is not None


def headline_month(conn: psycopg.Connection) -> tuple[date | None, bool]:
    """(the latest complete month, whether the business has subscription revenue)."""
    month = conn.execute(SUBSCRIPTION_MONTH).fetchone()[0]
    if month is not None:
        return month, True
    if _has(conn, "marts.ltv_model_fit"):
        return conn.execute(PURCHASE_LOG_MONTH).fetchone()[0], False
    return None, False


def headlines(settings: Settings) -> Headlines:
    """The headline metrics for the latest complete month, each with the mart it comes from: the one place that
    reads and derives them, for the terminal table and the HTML report alike. A business without subscriptions
    gets the figures it has (acquisition, the value of its purchases, voice, support) and a note naming the
    subscription ones it cannot have."""
    with psycopg.connect(settings.url()) as conn:
        month, subscriptions = headline_month(conn)
        if month is None:
            raise LookupError(
                "no complete month in the marts: neither subscription revenue (marts.fct_revenue_retention_monthly)"
                " nor a fit of one-off purchases (marts.ltv_model_fit); the daily DAG has not published yet"
                " (make demo, tealeaves run), or the exports hold no billing (marts.mart_source_coverage says which"
                " exports each mart was built without)"
            )
        cursor = conn.execute(HEADLINES, {"month": month, "max_lifetime": ltv_max_lifetime_months(settings)})
        h = dict(zip([c.name for c in cursor.description], cursor.fetchone(), strict=True))
        trailing = conn.execute(TRAILING_RETENTION, {"latest": month}).fetchall()
        purchases = None
        if not subscriptions:
            cursor = conn.execute(PURCHASE_LOG)
            purchases = dict(zip([c.name for c in cursor.description], cursor.fetchone(), strict=True))
    ltv_cac = h["formula_ltv"] / h["blended_cac"] if h["formula_ltv"] and h["blended_cac"] else None
    nrr_year, grr_year = annualised([n for n, _ in trailing]), annualised([g for _, g in trailing])
    metrics = [
        Metric(
            "new_customers",
            "New customers",
            _number(h["new_customers"], 0),
            "first paid invoice in the month (fct_acquisition_cost)",
            h["new_customers"],
        ),
        Metric("paid_cac", "Paid CAC", _money(h["paid_cac"]), "ad spend ÷ customers from paid channels", h["paid_cac"]),
        Metric(
            "blended_cac",
            "Blended CAC",
            _money(h["blended_cac"]),
            "all sales & marketing cost ÷ all new customers",
            h["blended_cac"],
        ),
        Metric(
            "payback_months",
            "CAC payback",
            _number(h["payback_months"]) + " months",
            "blended CAC ÷ (ARPA × gross margin)",
            h["payback_months"],
        ),
        Metric(
            "mrr",
            "MRR",
            _money(h["closing_mrr"]),
            "month-end recurring revenue (fct_revenue_retention_monthly)",
            h["closing_mrr"],
        ),
        Metric(
            "nrr",
            "Net revenue retention",
            _share(h["net_revenue_retention"]),
            "opening customers' MRR now ÷ then",
            h["net_revenue_retention"],
        ),
        Metric(
            "grr",
            "Gross revenue retention",
            _share(h["gross_revenue_retention"]),
            "as NRR, without expansion",
            h["gross_revenue_retention"],
        ),
        Metric(
            "nrr_grr_annualised",
            "NRR / GRR, annualised",
            f"{_share(nrr_year)} / {_share(grr_year)}",
            f"the last {len(trailing)} months' rates compounded to a year",
        ),
        Metric(
            "logo_churn",
            "Logo churn",
            _share(h["logo_churn_rate"]),
            "customers lost ÷ active at the start",
            h["logo_churn_rate"],
        ),
        Metric(
            "arpa_margin",
            "ARPA × gross margin",
            f"{_money(h['arpa_usd'])} × {_share(h['gross_margin_pct'])}",
            "fct_gross_margin",
        ),
        Metric(
            "formula_ltv",
            "Formula LTV",
            _money(h["formula_ltv"]),
            f"÷ trailing-12-month churn {_share(h['monthly_logo_churn'])}",
            h["formula_ltv"],
        ),
        Metric("ltv_cac", "LTV : CAC", _number(ltv_cac), "formula LTV ÷ blended CAC; 3 or more is healthy", ltv_cac),
        Metric(
            "cost_to_retain",
            "Cost to retain a customer",
            _money(h["cost_to_retain"]),
            "support, success, save offers ÷ retained",
            h["cost_to_retain"],
        ),
        Metric(
            "cac_to_retention_cost",
            "CAC ÷ cost to retain",
            _number(h["acquisition_to_retention_cost_ratio"]),
            "how much dearer winning is",
            h["acquisition_to_retention_cost_ratio"],
        ),
        Metric(
            "nps",
            "NPS",
            f"{_number(h['nps'])} ({h['nps_responses'] or 0} answers)",
            "% promoters − % detractors (fct_nps_monthly)",
            h["nps"],
        ),
        Metric(
            "csat",
            "CSAT",
            f"{_share(h['csat'])} ({h['csat_responses'] or 0} answers)",
            "post-ticket answers at 4-5 of 5",
            h["csat"],
        ),
        Metric(
            "first_reply_sla",
            "First-reply SLA met",
            _share(h["first_reply_attainment"]),
            f"of {h['tickets'] or 0} tickets opened",
            h["first_reply_attainment"],
        ),
        Metric(
            "resolution_sla",
            "Resolution SLA met",
            _share(h["resolution_attainment"]),
            "fct_support_performance_monthly",
            h["resolution_attainment"],
        ),
    ]
    if purchases is not None:
        at = 4  # after new customers, CAC and payback: the purchase log's value in place of the subscription's
        as_of = purchases["fit_as_of"]
        metrics[at:at] = [
            Metric(
                "predicted_clv",
                "Predicted CLV",
                _money(purchases["predicted_clv"]),
                "per customer, next 12 months of purchases, discounted (BG/NBD × Gamma-Gamma, fct_ltv_cac)",
                purchases["predicted_clv"],
            ),
            Metric(
                "revenue_per_customer",
                "Revenue per customer",
                _money(purchases["revenue_per_customer"]),
                "paid purchases net of refunds to date (fct_customer_lifetime_value)",
                purchases["revenue_per_customer"],
            ),
            Metric(
                "repeat_buyers",
                "Repeat buyers",
                _share(purchases["repeat_buyers"]),
                f"customers who bought again by {as_of} (ltv_model_fit)" if as_of else "ltv_model_fit",
                purchases["repeat_buyers"],
            ),
        ]
    composite = {"nrr_grr_annualised": bool(trailing), "arpa_margin": h["arpa_usd"] is not None}
    metrics = [replace(m, value=_float(m.value)) for m in metrics]
    shown = [m for m in metrics if composite.get(m.key, m.value is not None)]
    absent = [m for m in metrics if m not in shown]
    return Headlines(month, shown, absent, _absent_note(absent, subscriptions))


def _absent_note(absent: list[Metric], subscriptions: bool) -> str | None:
    """One line naming the headline figures the marts have none of, and why."""
    needs_subscriptions = [m.label for m in absent if not subscriptions and m.key in SUBSCRIPTION_METRICS]
    others = [m.label for m in absent if m.label not in needs_subscriptions]
    parts = []
    if needs_subscriptions:
        parts.append(
            f"No {', '.join(needs_subscriptions)}: the business has no subscription revenue"
            " (marts.fct_revenue_retention_monthly is empty), and these are figures of subscriptions."
        )
    if others:
        parts.append(f"No figure for {', '.join(others)}: their marts hold no data for the month.")
    return " ".join(parts) or None


def headline_table(settings: Settings) -> Table:
    """The headline metrics for the latest complete month, each with the mart it comes from."""
    figures = headlines(settings)
    table = Table(title=f"Headline metrics, {figures.month:%B %Y} (latest complete month)")
    for name, justify in (("metric", "left"), ("value", "right"), ("how", "left")):
        table.add_column(name, justify=justify)
    for metric in figures.metrics:
        table.add_row(metric.label, metric.shown, metric.how)
    if figures.absent_note:
        table.caption = figures.absent_note
    return table


LTV_CAC_BY_CHANNEL = """
select acquisition_channel as channel, sum(customers) as customers,
       sum(customers_with_predicted_clv) as customers_valued,
       sum(paid_spend_usd) / nullif(sum(customers), 0) as paid_cac,
       sum(paid_spend_usd + allocated_sales_marketing_cost_usd) / nullif(sum(customers), 0) as blended_cac,
       sum(formula_ltv_per_customer_usd * customers) / nullif(sum(customers)
           filter (where formula_ltv_per_customer_usd is not null), 0) as formula_ltv,
       sum(blended_cac_payback_months * customers) / nullif(sum(customers)
           filter (where blended_cac_payback_months is not null), 0) as blended_payback_months,
       sum(predicted_clv_per_customer_usd * customers) / nullif(sum(customers)
           filter (where predicted_clv_per_customer_usd is not null), 0) as predicted_clv,
       sum(predicted_ltv_per_customer_usd * customers) / nullif(sum(customers)
           filter (where predicted_ltv_per_customer_usd is not null), 0) as predicted_ltv
from marts.fct_ltv_cac
group by acquisition_channel
order by 1
"""


def ltv_cac_by_channel(settings: Settings) -> list[dict]:
    """Every cohort so far, per acquisition channel (marts.fct_ltv_cac): customers, those the LTV fit valued, paid
    and blended CAC, the customer-weighted blended CAC payback in months, formula LTV per customer, predicted CLV
    and LTV (CLV × gross margin) per customer, and each LTV ÷ blended CAC. One read for both LTV tables and the
    HTML report's charts, so the CAC both divide by is one number."""
    rows = _read(settings, LTV_CAC_BY_CHANNEL)
    for row in rows:
        blended = row["blended_cac"]
        for ltv, ratio in (("formula_ltv", "ltv_to_blended_cac"), ("predicted_ltv", "predicted_ltv_to_blended_cac")):
            row[ratio] = row[ltv] / blended if row[ltv] is not None and blended else None
    return rows


def ltv_cac_by_channel_table(settings: Settings) -> Table:
    """Every cohort so far, per acquisition channel: what a customer cost and what one is worth."""
    table = Table(title="LTV and CAC by acquisition channel, all cohorts (marts.fct_ltv_cac)")
    for name in ("channel", "customers", "paid CAC", "blended CAC", "formula LTV", "LTV : blended CAC"):
        table.add_column(name, justify="left" if name == "channel" else "right")
    for row in ltv_cac_by_channel(settings):
        table.add_row(
            row["channel"],
            f"{row['customers']:,}",
            _money(row["paid_cac"]),
            _money(row["blended_cac"]),
            _money(row["formula_ltv"]),
            _number(row["ltv_to_blended_cac"]),
        )
    return table


def predicted_ltv_cac_by_channel_table(settings: Settings) -> Table:
    """Predicted LTV:CAC per acquisition channel, all cohorts: the BG/NBD × Gamma-Gamma value of one-off
    purchases over the next 12 months (discounted) on gross margin, against blended CAC (fct_ltv_cac).
    A channel shows "—" when the latest daily LTV fit failed (marts.ltv_model_fit says why)."""
    table = Table(title="Predicted LTV and CAC by acquisition channel, all cohorts (USD, marts.fct_ltv_cac)")
    table.add_column("channel", justify="left", no_wrap=True)
    for name in ("customers", "valued", "blended CAC", "CLV", "LTV", "LTV : CAC"):
        table.add_column(name, justify="right")
    for row in ltv_cac_by_channel(settings):
        table.add_row(
            row["channel"],
            f"{row['customers']:,}",
            f"{row['customers_valued']:,}",
            _number(row["blended_cac"], 2),
            _number(row["predicted_clv"], 2),
            _number(row["predicted_ltv"], 2),
            _number(row["predicted_ltv_to_blended_cac"], 2),
        )
    with psycopg.connect(settings.url()) as conn:
        subscriptions = headline_month(conn)[1]
    table.caption = _predicted_ltv_caption(ltv_fits(settings)[0], subscriptions)
    return table


def _predicted_ltv_caption(fit: dict | None, subscriptions: bool) -> str:
    """What the predicted figures value, over the horizon and discount the latest fit used; the subscription's own
    value is named only where the business has one (a purchase log's whole value is its one-off purchases)."""
    horizon = (
        f"over the next {fit['horizon_months']} months, discounted {fit['monthly_discount_rate'] * 100:.2f}% a month"
        if fit and fit["horizon_months"] is not None
        else "(no daily LTV fit yet)"
    )
    what = "one-off purchases (add-ons, credits)" if subscriptions else "purchases"
    caption = (
        f"predicted CLV of {what} {horizon} (marts.fct_predicted_ltv); LTV = CLV × gross margin; "
        "valued = customers the model has seen buy"
    )
    return caption + ("; the subscription's value is formula LTV above" if subscriptions else "")


def backtest_tables(record: FitRecord) -> list[Table]:
    """The backtest's totals and fit, and predicted against actual by calibration frequency (Fader et al.'s check)."""
    fit = record.bgnbd
    totals = Table(
        title=f"LTV backtest {record.fit_id}: fit to {record.as_of_date}, predict to {record.holdout_end_date}"
    )
    totals.add_column("", justify="left")
    totals.add_column("value", justify="right")
    for label, value in (
        ("customers (first purchase by the calibration end)", f"{record.n_customers:,}"),
        ("  of which with a repeat purchase", f"{record.n_repeat_customers:,}"),
        (
            f"BG/NBD r, alpha ({record.time_unit.value}), a, b",
            f"{fit.r:.3f}, {fit.alpha:.3f}, {fit.a:.3f}, {fit.b:.3f}",
        ),
        ("predicted repeat purchases in the holdout", f"{record.holdout_predicted:,.1f}"),
        ("actual purchases in the holdout", f"{record.holdout_actual:,.0f}"),
        ("error (predicted − actual) ÷ actual", f"{record.holdout_error_pct:+.1f}%"),
        ("mean absolute error per customer", f"{record.holdout_mae:.3f}"),
    ):
        totals.add_row(label, value)
    by_frequency = Table(title="Holdout purchases per customer by calibration repeat purchases")
    for name in ("repeat purchases in calibration", "customers", "predicted, mean", "actual, mean"):
        by_frequency.add_column(name, justify="right")
    buckets: dict[str, list[tuple[float, int]]] = {}
    for _, _, frequency, predicted, actual in record.backtest_rows:
        buckets.setdefault(str(frequency) if frequency < 7 else "7+", []).append((predicted, actual))
    for bucket in sorted(buckets, key=lambda b: int(b.rstrip("+"))):
        pairs = buckets[bucket]
        by_frequency.add_row(
            bucket,
            f"{len(pairs):,}",
            f"{sum(p for p, _ in pairs) / len(pairs):.2f}",
            f"{sum(a for _, a in pairs) / len(pairs):.2f}",
        )
    return [totals, by_frequency]


def coverage(settings: Settings) -> list[dict]:
    """Marts built without some of their exports (marts.mart_source_coverage): per mart, whether its required
    exports were all there (`complete`: then it is partial, else empty) and the absent exports."""
    with psycopg.connect(settings.url()) as conn:
        if conn.execute("select to_regclass('marts.mart_source_coverage')").fetchone()[0] is None:
            return []
    return _read(
        settings,
        """
        select mart_name as mart, bool_and(has_required_sources) as complete,
               string_agg(source_name || '.' || source_table, ', ' order by source_name, source_table)
                   filter (where not is_present) as absent
        from marts.mart_source_coverage
        group by mart_name
        having bool_or(not is_present)
        order by mart_name
        """,
    )


def coverage_table(settings: Settings) -> Table:
    """Which marts were built without some of their exports (marts.mart_source_coverage), one line per mart."""
    rows = coverage(settings)
    table = Table(title="Marts built without some exports (marts.mart_source_coverage)")
    for name in ("mart", "state", "absent exports"):
        table.add_column(name)
    for row in rows:
        state = "partial" if row["complete"] else "empty: a required export is absent"
        table.add_row(row["mart"], state, row["absent"])
    if not rows:
        table.add_row("every mart", "complete", "—")
    return table


# -- the series the HTML report charts (tealeaves.report_html); plain reads of the marts, by month ------------------
def mrr_bridge(settings: Settings) -> list[dict]:
    """The whole book's MRR bridge per month (marts.fct_revenue_retention_monthly, segment 'all'), USD."""
    return _read(
        settings,
        """
        select month, is_partial_month, opening_mrr, new_mrr, reactivation_mrr, expansion_mrr, contraction_mrr,
               churned_mrr, closing_mrr
        from marts.fct_revenue_retention_monthly where segment = 'all' order by month
        """,
    )


def cost_to_retain(settings: Settings) -> list[dict]:
    """Blended CAC and the cost to retain one customer per month, all segments (fct_acquisition_vs_retention_cost)."""
    return _read(
        settings,
        """
        select month, cac as blended_cac, cost_to_retain
        from marts.fct_acquisition_vs_retention_cost where segment = 'all' order by month
        """,
    )


def cohort_retention(settings: Settings) -> list[dict]:
    """Logo and revenue retention per cohort month and months since its start (marts.fct_cohort_retention)."""
    return _read(
        settings,
        """
        select cohort_month, months_since_start, cohort_customers, retained_customers, logo_retention,
               revenue_retention, is_partial_month
        from marts.fct_cohort_retention order by cohort_month, months_since_start
        """,
    )


def voice_trend(settings: Settings) -> list[dict]:
    """NPS and CSAT per month over every response (marts.fct_nps_monthly, segment 'all')."""
    return _read(
        settings,
        """
        select month, nps, nps_responses, csat, csat_responses
        from marts.fct_nps_monthly where segment = 'all' order by month
        """,
    )


def sla_trend(settings: Settings) -> list[dict]:
    """First-reply and resolution SLA attainment per month, every priority and channel pooled."""
    return _read(settings, f"select * from ({SLA_BY_MONTH}) as s order by s.month")


# -- predicted LTV (BG/NBD × Gamma-Gamma): the latest daily fit, its backtest and what it predicts ----------------
LTV_FITS = """
select distinct on (fit_kind)
    fit_id, fit_kind, as_of_date, time_unit, n_customers, n_repeat_customers, converged, message, bgnbd_r, bgnbd_alpha,
    bgnbd_a, bgnbd_b, gamma_gamma_p, gamma_gamma_q, gamma_gamma_gamma_usd, horizon_months, monthly_discount_rate,
    holdout_end_date, holdout_predicted_transactions, holdout_actual_transactions, holdout_error_ratio,
    holdout_mean_absolute_error
from marts.ltv_model_fit
order by fit_kind, as_of_date desc nulls last, holdout_end_date desc nulls last, fit_id desc
"""


def ltv_fits(settings: Settings) -> tuple[dict | None, dict | None]:
    """(the latest daily fit, the latest backtest) of marts.ltv_model_fit, each None when there is none: the fit
    fct_predicted_ltv's values come from (fct_ltv_cac takes the same one), and the holdout error of the newest
    `tealeaves ltv backtest`."""
    fits = {row["fit_kind"]: row for row in _read(settings, LTV_FITS)}
    return fits.get("pipeline"), fits.get("backtest")


CLV_BINS = 20


def _round_width(raw: float) -> Decimal:
    """The smallest of 1, 2 or 5 × a power of ten at least `raw`: bin edges a reader can take in (0, 20, 40...)."""
    power = Decimal(10) ** math.floor(math.log10(raw))
    return next(step * power for step in (Decimal(1), Decimal(2), Decimal(5), Decimal(10)) if step * power >= raw)


def predicted_clv_distribution(settings: Settings, bins: int = CLV_BINS) -> list[dict]:
    """Customers by predicted CLV (marts.fct_predicted_ltv), in equal bins up to the 99th percentile and one open
    bin above it, so the few largest values do not squeeze the rest into one bar: rows of lower_usd, upper_usd
    (None for the open bin) and customers, every bin listed, empty ones too. [] when nothing is predicted."""
    with psycopg.connect(settings.url()) as conn:
        top, largest = conn.execute(
            "select percentile_cont(0.99) within group (order by predicted_clv_usd), max(predicted_clv_usd)"
            " from marts.fct_predicted_ltv"
        ).fetchone()
        if largest is None:
            return []
        width = _round_width(float(top) / bins) if top and top > 0 else Decimal(max(largest, 1))
        closed = max(1, math.ceil(Decimal(str(top or 0)) / width))
        counts = dict(
            conn.execute(
                "select least(floor(predicted_clv_usd / %(width)s)::integer, %(closed)s), count(*)"
                " from marts.fct_predicted_ltv group by 1",
                {"width": width, "closed": closed},
            ).fetchall()
        )
    return [
        {
            "lower_usd": width * i,
            "upper_usd": width * (i + 1) if i < closed else None,
            "customers": counts.get(i, 0),
        }
        for i in range(closed + 1)
    ]
