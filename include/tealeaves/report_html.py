"""`tealeaves report --html`: the headline metrics and their charts as ONE self-contained HTML file, for email.

Every figure comes from tealeaves.report, which the terminal report reads too. The charts are Vega-Lite specs
written with altair; the page carries the vega, vega-lite and vega-embed JavaScript inline, as altair's own
`to_html(inline=True)` does (the bundle vl-convert-python ships), so the file opens on a machine with no network.
A chart whose mart is absent or empty (a business without subscriptions, a help desk or surveys) becomes one line
saying so.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import altair as alt
import jinja2
import psycopg

from tealeaves import report
from tealeaves.config import Settings

# How the embedded charts behave: drawn as SVG (sharp when printed); the menu saves a chart as PNG or SVG and
# offers nothing that would need the network (the online Vega editor) or show the spec's source.
EMBED_OPTIONS = {"renderer": "svg", "actions": {"export": True, "source": False, "compiled": False, "editor": False}}
MONTH = alt.X("utcyearmonth(month):T", title=None, axis=alt.Axis(format="%b %Y", labelAngle=-40))
WIDTH = 520


class NothingPublished(LookupError):
    """No mart the report reads exists: the daily DAG has not published yet."""


class CannotWrite(OSError):
    """The report's file could not be written where asked."""


@dataclass
class Section:
    """One chart of the report, or the line saying why it has none."""

    name: str
    title: str
    about: str
    spec: dict | None = None
    note: str | None = None
    facts: list[Fact] = field(default_factory=list)


@dataclass(frozen=True)
class Fact:
    """One line of a section's table of figures: as shown, and its value as the mart has it (for a reader)."""

    key: str
    label: str
    shown: str
    value: float | str | None = None


@dataclass
class Page:
    headlines: report.Headlines | None
    headline_note: str | None
    sections: list[Section]
    partial_marts: list[dict] = field(default_factory=list)


# -- data for Vega-Lite: JSON values (numbers, ISO dates) ------------------------------------------------------
def _json_value(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def records(rows: list[dict]) -> list[dict]:
    """Rows as read from the marts, with numbers and dates as JSON has them."""
    return [{key: _json_value(value) for key, value in row.items()} for row in rows]


# -- the charts ---------------------------------------------------------------------------------------------------
def acquisition_chart(costs: list[dict], retention: list[dict]) -> alt.FacetChart:
    """Paid and blended CAC per channel and month, each against the month's cost to retain one customer."""
    long = []
    for row in records(costs):
        if row["spend"]:  # organic channels have no paid CAC (0.00 by definition), only a blended one
            long.append({"month": row["month"], "series": row["channel"], "measure": "Paid CAC", "usd": row["cac"]})
        long.append(
            {"month": row["month"], "series": row["channel"], "measure": "Blended CAC", "usd": row["blended_cac"]}
        )
    for row in records(retention):
        for measure in ("Paid CAC", "Blended CAC"):
            long.append(
                {"month": row["month"], "series": "cost to retain", "measure": measure, "usd": row["cost_to_retain"]}
            )
    long = [row for row in long if row["usd"] is not None]
    return (
        alt.Chart(alt.Data(values=long))
        .mark_line(point=True)
        .encode(
            x=MONTH,
            y=alt.Y("usd:Q", title="USD per customer"),
            color=alt.Color("series:N", title="channel"),
            strokeDash=alt.condition(alt.datum.series == "cost to retain", alt.value([5, 3]), alt.value([1, 0])),
            tooltip=[alt.Tooltip("utcyearmonth(month):T", title="month"), "series:N", "measure:N", "usd:Q"],
        )
        .properties(width=WIDTH - 80, height=260)
        .facet(column=alt.Column("measure:N", title=None, sort=["Paid CAC", "Blended CAC"]))
    )


MOVEMENTS = {
    "new": "new_mrr",
    "reactivation": "reactivation_mrr",
    "expansion": "expansion_mrr",
    "contraction": "contraction_mrr",
    "churn": "churned_mrr",
}


LOST = "indexof(['contraction', 'churn'], datum.movement) >= 0"


def mrr_chart(bridge: list[dict]) -> alt.LayerChart:
    """The month's MRR movements as bars above (won) and below (lost) zero, the net change as a line."""
    named = " : ".join(f"datum.column == '{column}' ? '{name}'" for name, column in MOVEMENTS.items()) + " : null"
    base = alt.Chart(alt.Data(values=records(bridge))).transform_filter("!datum.is_partial_month")
    bars = (
        base.transform_fold(list(MOVEMENTS.values()), as_=["column", "usd"])
        .transform_calculate(movement=named)
        .transform_calculate(signed_usd=LOST + " ? -datum.usd : datum.usd")
        .mark_bar()
        .encode(
            x=alt.X("utcyearmonth(month):O", title=None, axis=alt.Axis(format="%b %Y", labelAngle=-40)),
            y=alt.Y("signed_usd:Q", title="MRR change, USD"),
            color=alt.Color(
                "movement:N",
                sort=list(MOVEMENTS),
                scale=alt.Scale(domain=list(MOVEMENTS), range=["#2f7d32", "#81c784", "#4fc3f7", "#ffb74d", "#d32f2f"]),
            ),
            tooltip=[
                alt.Tooltip("utcyearmonth(month):O", title="month"),
                "movement:N",
                alt.Tooltip("usd:Q", format=",.2f"),
            ],
        )
    )
    net = (
        base.transform_calculate(net="datum.closing_mrr - datum.opening_mrr")
        .mark_line(point=True, color="black")
        .encode(
            x=alt.X("utcyearmonth(month):O"),
            y="net:Q",
            tooltip=[
                alt.Tooltip("utcyearmonth(month):O", title="month"),
                alt.Tooltip("net:Q", title="net change", format=",.2f"),
                alt.Tooltip("closing_mrr:Q", title="closing MRR", format=",.2f"),
            ],
        )
    )
    return (bars + net).properties(width=WIDTH * 2 - 80, height=300)


def cohort_chart(cohorts: list[dict]) -> alt.LayerChart:
    """Each cohort's share of customers still paying, by months since their first paid month."""
    base = alt.Chart(alt.Data(values=records(cohorts))).encode(
        x=alt.X("months_since_start:O", title="months since the first paid month"),
        y=alt.Y("utcyearmonth(cohort_month):O", title="cohort", axis=alt.Axis(format="%b %Y")),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("logo_retention:Q", title="customers retained", scale=alt.Scale(domain=[0, 1], scheme="blues")),
        tooltip=[
            alt.Tooltip("utcyearmonth(cohort_month):O", title="cohort"),
            "months_since_start:O",
            "cohort_customers:Q",
            "retained_customers:Q",
            alt.Tooltip("logo_retention:Q", format=".1%"),
            alt.Tooltip("revenue_retention:Q", format=".1%"),
        ],
    )
    labels = base.mark_text(fontSize=10).encode(
        text=alt.Text("logo_retention:Q", format=".0%"),
        color=alt.condition(alt.datum.logo_retention > 0.6, alt.value("white"), alt.value("black")),
    )
    return (cells + labels).properties(width=WIDTH * 2 - 120, height=alt.Step(22))


def ltv_cac_chart(channels: list[dict]) -> alt.HConcatChart:
    """Per acquisition channel, all cohorts: formula LTV ÷ blended CAC (3 is the usual bar) and months to pay back."""
    base = alt.Chart(alt.Data(values=records(channels))).encode(y=alt.Y("channel:N", title=None))
    bars = base.mark_bar(color="#3f6fb5").encode(
        x=alt.X("ltv_to_blended_cac:Q", title="formula LTV ÷ blended CAC"),
        tooltip=["channel:N", "customers:Q", alt.Tooltip("ltv_to_blended_cac:Q", format=".2f")],
    )
    healthy = alt.Chart().mark_rule(color="#d32f2f", strokeDash=[4, 2], size=2).encode(x=alt.datum(3))
    ratio = alt.layer(bars, healthy)
    payback = base.mark_bar(color="#8c6bb1").encode(
        x=alt.X("blended_payback_months:Q", title="blended CAC payback, months"),
        tooltip=["channel:N", alt.Tooltip("blended_payback_months:Q", format=".1f")],
    )
    return alt.hconcat(ratio.properties(width=WIDTH - 140), payback.properties(width=WIDTH - 140))


def voice_chart(voice: list[dict]) -> alt.LayerChart:
    """NPS (points, left axis) and CSAT (share, right axis) per month."""
    base = alt.Chart(alt.Data(values=records(voice))).encode(x=MONTH)
    nps = base.mark_line(point=True, color="#3f6fb5").encode(
        y=alt.Y("nps:Q", title="NPS (points, −100 to 100)", axis=alt.Axis(titleColor="#3f6fb5")),
        tooltip=[alt.Tooltip("utcyearmonth(month):T", title="month"), "nps:Q", "nps_responses:Q"],
    )
    csat = base.mark_line(point=True, color="#e08214").encode(
        y=alt.Y(
            "csat:Q",
            title="CSAT (answers at 4-5 of 5)",
            scale=alt.Scale(domain=[0, 1]),
            axis=alt.Axis(format="%", titleColor="#e08214"),
        ),
        tooltip=[
            alt.Tooltip("utcyearmonth(month):T", title="month"),
            alt.Tooltip("csat:Q", format=".1%"),
            "csat_responses:Q",
        ],
    )
    return alt.layer(nps, csat).resolve_scale(y="independent").properties(width=WIDTH - 80, height=260)


def sla_chart(sla: list[dict]) -> alt.Chart:
    """Share of the month's tickets that met their first-reply and resolution targets."""
    return (
        alt.Chart(alt.Data(values=records(sla)))
        .transform_fold(["first_reply_attainment", "resolution_attainment"], as_=["target", "attainment"])
        .transform_calculate(target="datum.target == 'first_reply_attainment' ? 'first reply' : 'resolution'")
        .mark_line(point=True)
        .encode(
            x=MONTH,
            y=alt.Y(
                "attainment:Q",
                title="tickets within the SLA",
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%"),
            ),
            color=alt.Color("target:N", title="SLA target"),
            tooltip=[
                alt.Tooltip("utcyearmonth(month):T", title="month"),
                "target:N",
                alt.Tooltip("attainment:Q", format=".1%"),
                "tickets:Q",
            ],
        )
        .properties(width=WIDTH - 80, height=260)
    )


def predicted_ltv_chart(bins: list[dict], channels: list[dict]) -> alt.HConcatChart:
    """Customers by predicted CLV (bins to the 99th percentile, then one open bin), and the predicted CLV and
    LTV per customer of each acquisition channel."""
    labelled = [
        {
            **row,
            "bin": f"{row['lower_usd']:,.0f}–{row['upper_usd']:,.0f}"
            if row["upper_usd"] is not None
            else f"≥ {row['lower_usd']:,.0f}",
        }
        for row in records(bins)
    ]
    histogram = (
        alt.Chart(alt.Data(values=labelled))
        .mark_bar(color="#3f6fb5")
        .encode(
            x=alt.X("bin:O", sort=None, title="predicted CLV per customer, USD (next 12 months, discounted)"),
            y=alt.Y("customers:Q", title="customers"),
            tooltip=[alt.Tooltip("bin:O", title="predicted CLV, USD"), "customers:Q"],
        )
        .properties(width=WIDTH - 80, height=260)
    )
    long = [
        {"channel": row["channel"], "measure": measure, "usd": row[column], "customers": row["customers"]}
        for row in records(channels)
        for measure, column in (("CLV (revenue)", "predicted_clv"), ("LTV (× gross margin)", "predicted_ltv"))
        if row[column] is not None
    ]
    by_channel = (
        alt.Chart(alt.Data(values=long))
        .mark_bar()
        .encode(
            y=alt.Y("channel:N", title=None),
            yOffset=alt.YOffset("measure:N"),
            x=alt.X("usd:Q", title="predicted per customer, USD"),
            color=alt.Color("measure:N", title=None, scale=alt.Scale(range=["#3f6fb5", "#8c6bb1"])),
            tooltip=["channel:N", "measure:N", alt.Tooltip("usd:Q", format=",.2f"), "customers:Q"],
        )
        .properties(width=WIDTH - 180)
    )
    return alt.hconcat(histogram, by_channel)


@dataclass(frozen=True)
class ChartSource:
    """A chart of the report: what it is called, what it shows, the marts it reads (the first must have rows),
    how they are read (tealeaves.report) and how it is drawn from them."""

    name: str
    title: str
    about: str
    marts: tuple[str, ...]
    read: Callable[[Settings], tuple[list[dict], ...]]
    draw: Callable[..., alt.TopLevelMixin]
    # rows with nothing to draw (every figure null) and the note said instead
    blank: Callable[[list[dict]], bool] = lambda rows: False
    blank_note: str = ""


CHARTS = [
    ChartSource(
        "acquisition_vs_retention",
        "Customer acquisition cost by channel, against the cost to retain a customer",
        "Paid CAC = ad spend ÷ new customers of paid channels; blended CAC adds the sales & marketing ledger. "
        "Dashed: support, success and save offers ÷ customers retained, the same month.",
        ("fct_acquisition_cost", "fct_acquisition_vs_retention_cost"),
        lambda s: (report.acquisition_costs(s), _optional(report.cost_to_retain, s)),
        acquisition_chart,
    ),
    ChartSource(
        "mrr_movements",
        "MRR movements by month",
        "Won (new, reactivation, expansion) above zero, lost (contraction, churn) below; the line is the net "
        "change. Complete months only.",
        ("fct_revenue_retention_monthly",),
        lambda s: (report.mrr_bridge(s),),
        mrr_chart,
    ),
    ChartSource(
        "cohort_retention",
        "Cohort retention",
        "Share of each cohort (customers by first paid month) still paying, by months since they started.",
        ("fct_cohort_retention",),
        lambda s: (report.cohort_retention(s),),
        cohort_chart,
    ),
    ChartSource(
        "ltv_cac_by_channel",
        "LTV : CAC and CAC payback by acquisition channel",
        "All cohorts so far: formula LTV per customer ÷ blended CAC (the dashed line is 3), and the months of "
        "gross margin that earn the blended CAC back.",
        ("fct_ltv_cac",),
        lambda s: (report.ltv_cac_by_channel(s),),
        ltv_cac_chart,
        lambda rows: all(r["ltv_to_blended_cac"] is None and r["blended_payback_months"] is None for r in rows),
        "No data: no channel of marts.fct_ltv_cac has a formula LTV or a CAC payback; both need the gross margin"
        " of subscription revenue (marts.fct_gross_margin). Predicted LTV, below, values one-off purchases.",
    ),
    ChartSource(
        "nps_csat",
        "NPS and CSAT by month",
        "NPS from the relationship survey (% promoters − % detractors); CSAT from the post-ticket survey.",
        ("fct_nps_monthly",),
        lambda s: (report.voice_trend(s),),
        voice_chart,
    ),
    ChartSource(
        "sla_attainment",
        "Support SLA attainment by month",
        "Tickets created in the month that met their first-reply and resolution targets, every priority and channel.",
        ("fct_support_performance_monthly",),
        lambda s: (report.sla_trend(s),),
        sla_chart,
    ),
]


PREDICTED_LTV = (
    "predicted_ltv",
    "Predicted LTV of one-off purchases (BG/NBD × Gamma-Gamma)",
    "The latest daily fit (marts.ltv_model_fit) and what it predicts (marts.fct_predicted_ltv, fct_ltv_cac): each "
    "customer's one-off purchases over the next 12 months, discounted, as revenue (CLV) and on gross margin (LTV). "
    "The holdout error is the newest backtest's: fitted to a day, asked to predict the purchases after it.",
)


def _count(value) -> str:
    return f"{value:,}"


def _backtest_fact(backtest: dict | None) -> list[Fact]:
    """The newest backtest's holdout error, or a line saying how to get one."""
    if backtest is None:
        return [
            Fact(
                "holdout_error",
                "Holdout error",
                "no backtest yet: run tealeaves ltv backtest --calibration-end DAY --holdout-end DAY; the next daily"
                " run publishes it",
            )
        ]
    if not backtest["converged"] or backtest["holdout_error_ratio"] is None:
        return [Fact("holdout_error", "Holdout error", f"backtest {backtest['fit_id']} failed: {backtest['message']}")]
    start = backtest["as_of_date"] + timedelta(days=1) if backtest["as_of_date"] else None
    return [
        Fact(
            "holdout_error",
            "Holdout error",
            f"{backtest['holdout_error_ratio'] * 100:+.1f}% (predicted {backtest['holdout_predicted_transactions']:,}"
            f" against {backtest['holdout_actual_transactions']:,} actual purchase days, {start} to"
            f" {backtest['holdout_end_date']}; backtest {backtest['fit_id']})",
            float(backtest["holdout_error_ratio"]),
        ),
        Fact(
            "holdout_mae",
            "Mean absolute error per customer",
            f"{backtest['holdout_mean_absolute_error']:.3f} purchase days",
            float(backtest["holdout_mean_absolute_error"]),
        ),
    ]


def predicted_ltv_section(settings: Settings) -> Section:
    """The daily LTV fit as a table, the backtest's holdout error, and the predicted CLV's distribution and per
    channel as a chart; one note line when there is no fit or it did not converge."""
    section = Section(*PREDICTED_LTV)
    fit, backtest = report.ltv_fits(settings)
    if fit is None:
        section.note = (
            "No predicted LTV: marts.ltv_model_fit holds no daily fit (the daily DAG has not fitted one-off purchases)."
        )
        return section
    if not fit["converged"]:
        section.note = (
            f"No predicted LTV: the daily fit {fit['fit_id']} (as of {fit['as_of_date']}) did not converge:"
            f" {fit['message']}."
        )
        return section
    section.facts = [
        Fact("fit_id", "Daily fit", fit["fit_id"], fit["fit_id"]),
        Fact("as_of_date", "As of", str(fit["as_of_date"]), fit["as_of_date"].isoformat()),
        Fact("n_customers", "Customers in the fit", _count(fit["n_customers"]), fit["n_customers"]),
        Fact(
            "n_repeat_customers", "Of whom bought again", _count(fit["n_repeat_customers"]), fit["n_repeat_customers"]
        ),
        Fact("converged", "Converged", "yes", "true"),
        Fact(
            "bgnbd",
            "BG/NBD r, α, a, b",
            f"{fit['bgnbd_r']:.3f}, {fit['bgnbd_alpha']:.3f} {fit['time_unit']},"
            f" {fit['bgnbd_a']:.3f}, {fit['bgnbd_b']:.3f}",
        ),
        Fact(
            "gamma_gamma",
            "Gamma-Gamma p, q, γ",
            f"{fit['gamma_gamma_p']:.2f}, {fit['gamma_gamma_q']:.2f}, {fit['gamma_gamma_gamma_usd']:.2f} USD",
        ),
        Fact(
            "horizon",
            "CLV horizon",
            f"{fit['horizon_months']} months, discounted {fit['monthly_discount_rate'] * 100:.2f}% a month",
        ),
        *_backtest_fact(backtest),
    ]
    bins = report.predicted_clv_distribution(settings)
    if bins:
        section.spec = predicted_ltv_chart(bins, report.ltv_cac_by_channel(settings)).to_dict()
    else:
        section.note = f"No data: marts.fct_predicted_ltv is empty although the fit {fit['fit_id']} converged."
    return section


def _optional(read: Callable[[Settings], list[dict]], settings: Settings) -> list[dict]:
    """A series a chart can do without: none when its mart is not built."""
    try:
        return read(settings)
    except psycopg.errors.UndefinedTable:
        return []


def _why_empty(marts: tuple[str, ...], partial: dict[str, dict]) -> str:
    absent = [f"{partial[m]['absent']}" for m in marts if m in partial and partial[m]["absent"]]
    if absent:
        return f"built without the exports {'; '.join(absent)}"
    return "the exports hold nothing for it yet"


def build_page(settings: Settings) -> Page:
    """Every section of the report, read from the published marts; a missing or empty mart gives a note."""
    missing = 0
    try:
        partial = {row["mart"]: row for row in report.coverage(settings)}
    except psycopg.errors.UndefinedTable:
        partial = {}
    try:
        headlines, headline_note = report.headlines(settings), None
    except psycopg.errors.UndefinedTable as exc:
        headlines, headline_note, missing = None, f"not published: {_first_line(exc)}", missing + 1
    except LookupError as exc:
        headlines, headline_note = None, str(exc)
    sections = []
    for chart in CHARTS:
        section = Section(chart.name, chart.title, chart.about)
        try:
            series = chart.read(settings)
            if series[0] and chart.blank(series[0]):
                section.note = chart.blank_note
            elif series[0]:
                section.spec = chart.draw(*series).to_dict()
            else:
                section.note = f"No data: marts.{chart.marts[0]} is empty ({_why_empty(chart.marts, partial)})."
        except psycopg.errors.UndefinedTable as exc:
            missing += 1
            section.note = f"Not published: {_first_line(exc)} (the daily DAG has not built it)."
        sections.append(section)
        if chart.name == "ltv_cac_by_channel":  # predicted LTV beside the formula one
            try:
                sections.append(predicted_ltv_section(settings))
            except psycopg.errors.UndefinedTable as exc:
                missing += 1
                sections.append(
                    Section(*PREDICTED_LTV, note=f"Not published: {_first_line(exc)} (the daily DAG has not built it).")
                )
    if missing == len(CHARTS) + 2:
        raise NothingPublished(
            "no mart the report reads is published (schema marts): run `make demo` or `tealeaves run` first"
        )
    return Page(headlines, headline_note, sections, list(partial.values()))


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [""])[0]


# -- the page -----------------------------------------------------------------------------------------------------
TEMPLATE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
    """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="tealeaves report --html">
<title>{{ title }}</title>
<style>
  :root { color-scheme: light; }
  body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
         margin: 0 auto; max-width: 1160px; padding: 24px 32px 48px; color: #1d2430; background: #fff; }
  h1 { font-size: 26px; margin: 0 0 4px; }
  h2 { font-size: 18px; margin: 32px 0 4px; }
  .meta, .about { color: #5b6472; font-size: 13px; margin: 0 0 12px; }
  .tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 12px; margin: 18px 0; }
  .tile { border: 1px solid #dde2ea; border-radius: 8px; padding: 10px 12px; break-inside: avoid; }
  .tile .label { font-size: 12px; color: #5b6472; text-transform: uppercase; letter-spacing: .03em; }
  .tile .value { font-size: 21px; font-weight: 600; margin: 4px 0; font-variant-numeric: tabular-nums; }
  .tile .how { font-size: 11.5px; color: #6b7380; }
  .note { border-left: 4px solid #c9a227; background: #fbf7e9; padding: 8px 12px; font-size: 14px; }
  section.chart { break-inside: avoid; }
  table.coverage, table.facts { border-collapse: collapse; font-size: 13px; margin: 0 0 12px; }
  table.coverage td, table.coverage th, table.facts td, table.facts th {
    border-bottom: 1px solid #dde2ea; padding: 4px 10px; text-align: left; }
  table.facts th { font-weight: 500; color: #5b6472; }
  table.facts td { font-variant-numeric: tabular-nums; }
  footer { margin-top: 36px; color: #6b7380; font-size: 12px; }
</style>
<script>
// vega, vega-lite and vega-embed (BSD-3-Clause), the bundle vl-convert-python ships for altair's inline HTML
{{ bundle | safe }}
</script>
</head>
<body>
<h1>{{ title }}</h1>
<p class="meta">Read from the published marts (schema <code>marts</code>) at {{ generated }}.
Definitions: docs/metrics.md in the tealeaves repository.</p>
{% if headlines %}
<section class="headlines" data-month="{{ headlines.month.isoformat() }}">
<h2>Headline metrics, {{ headlines.month.strftime("%B %Y") }} (latest complete month)</h2>
<div class="tiles">
{% for m in headlines.metrics %}
<div class="tile" data-metric="{{ m.key }}"{% if m.value is not none %} data-value="{{ m.value }}"{% endif %}>
<div class="label">{{ m.label }}</div><div class="value">{{ m.shown }}</div><div class="how">{{ m.how }}</div>
</div>
{% endfor %}
</div>
{% if headlines.absent_note %}
<p class="note" data-note="headlines" data-absent="{{ headlines.absent | map(attribute="key") | join(" ") }}">
{{- headlines.absent_note }}</p>
{% endif %}
</section>
{% else %}
<section class="headlines"><h2>Headline metrics</h2><p class="note" data-note="headlines">{{ headline_note }}</p>
</section>
{% endif %}
{% for s in sections %}
<section class="chart" id="{{ s.name }}">
<h2>{{ s.title }}</h2>
<p class="about">{{ s.about }}</p>
{% if s.facts %}<table class="facts" data-facts="{{ s.name }}">
{% for f in s.facts %}<tr data-fact="{{ f.key }}"{% if f.value is not none %} data-value="{{ f.value }}"{% endif %}>
<th>{{ f.label }}</th><td>{{ f.shown }}</td></tr>
{% endfor %}</table>{% endif %}
{% if s.spec %}<div class="vega" data-chart="{{ s.name }}"></div>
{% else %}<p class="note" data-note="{{ s.name }}">{{ s.note }}</p>{% endif %}
</section>
{% endfor %}
{% if partial_marts %}
<section class="coverage"><h2>Marts built without some exports</h2>
<table class="coverage"><tr><th>mart</th><th>state</th><th>absent exports</th></tr>
{% for row in partial_marts %}
<tr><td>{{ row.mart }}</td><td>{{ "partial" if row.complete else "empty: a required export is absent" }}</td>
<td>{{ row.absent }}</td></tr>
{% endfor %}
</table></section>
{% endif %}
<footer>tealeaves report --html · charts drawn in this file by Vega-Lite {{ vega_lite }}; nothing is fetched from
the network.</footer>
<script type="application/json" id="tealeaves-charts">{{ specs | safe }}</script>
<script>
(function () {
  const specs = JSON.parse(document.getElementById("tealeaves-charts").textContent);
  const options = {{ embed_options | safe }};
  Promise.all(Object.keys(specs).map(function (name) {
    const target = document.querySelector('[data-chart="' + name + '"]');
    return vegaEmbed(target, specs[name], options).then(function (result) { return [name, result.view]; });
  })).then(function (views) {
    window.tealeavesViews = Object.fromEntries(views);
    document.body.dataset.chartsRendered = String(views.length);
  }).catch(function (error) {
    console.error(error);
    document.body.dataset.chartsFailed = String(error);
  });
})();
</script>
</body>
</html>
"""
)


def _script_json(value) -> str:
    """JSON safe inside a <script> element: no '<' that could close it."""
    return json.dumps(value, separators=(",", ":")).replace("<", "\\u003c")


def javascript_bundle() -> str:
    """vega, vega-lite and vega-embed in one script, for the Vega-Lite version altair writes: what altair inlines."""
    from altair.utils._importers import import_vl_convert, vl_version_for_vl_convert

    return import_vl_convert().javascript_bundle(vl_version=vl_version_for_vl_convert())


def render(page: Page, generated: datetime | None = None) -> str:
    """The report as one HTML document."""
    month = page.headlines.month.strftime("%B %Y") if page.headlines else None
    specs = {s.name: s.spec for s in page.sections if s.spec}
    return TEMPLATE.render(
        title=f"tealeaves report, {month}" if month else "tealeaves report",
        generated=(generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
        headlines=page.headlines,
        headline_note=page.headline_note,
        sections=page.sections,
        partial_marts=page.partial_marts,
        specs=_script_json(specs),
        embed_options=_script_json(EMBED_OPTIONS),
        bundle=javascript_bundle(),
        vega_lite=alt.SCHEMA_VERSION,
    )


class AtomicFile:
    """A file written whole or not at all: a temporary file beside `path`, renamed over it once complete, so a
    reader sees the old file or the new one, never half of one. Opened before the report is read and drawn, so
    an unwritable place fails at once. The file is private to its owner (0600): it holds the business's figures."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.is_dir():
            raise CannotWrite(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        try:
            self.handle, self.temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        except OSError as exc:
            raise CannotWrite(exc.errno, exc.strerror, str(path)) from None

    def commit(self, text: str) -> None:
        try:
            with os.fdopen(self.handle, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(self.temporary, self.path)
        except OSError as exc:
            self.discard()
            raise CannotWrite(exc.errno, exc.strerror, str(self.path)) from None

    def discard(self) -> None:
        Path(self.temporary).unlink(missing_ok=True)


def write_report(settings: Settings, path: Path) -> Page:
    """Read the marts, draw the report and write it to `path`; returns what it showed."""
    target = AtomicFile(path)
    try:
        page = build_page(settings)
        html = render(page)
    except BaseException:
        target.discard()
        raise
    target.commit(html)
    return page
