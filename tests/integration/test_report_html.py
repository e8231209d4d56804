"""`tealeaves report --html PATH`: one file finance can open from an email, on a machine with no network.

The command runs as a user runs it, against the shared `marts_world` (published, 400 customers); the file is
opened in Chromium with networking off. The figures it shows are checked against plain reads of the published
marts. A company without a help desk, surveys or cohorts gets a line per missing chart, not a traceback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tests.conftest import TEALEAVES, create_database
from tests.warehouse import query

CHARTS = {
    "acquisition_vs_retention",
    "mrr_movements",
    "cohort_retention",
    "ltv_cac_by_channel",
    "predicted_ltv",
    "nps_csat",
    "sla_attainment",
}


def run_report(url: str, home: Path, path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEALEAVES_", "AIRFLOW"))}
    env.update(TEALEAVES_HOME=str(home), TEALEAVES_DATABASE_URL=url)
    return subprocess.run(
        [TEALEAVES, "report", "--html", str(path)], env=env, capture_output=True, text=True, timeout=180
    )


def chart_specs(html: str) -> dict[str, dict]:
    """The Vega-Lite specs the page declares, by chart name."""
    found = re.search(r'<script type="application/json" id="tealeaves-charts">(.*?)</script>', html, re.S)
    assert found, "the page declares no charts"
    return json.loads(found.group(1))


def as_json(value):
    """A value read from PostgreSQL as it travels in a Vega-Lite spec: numbers as numbers, dates ISO."""
    if isinstance(value, date):
        return value.isoformat()
    return float(value) if isinstance(value, Decimal) else value


def open_offline(page, path: Path) -> None:
    """Open the report and wait until vega-embed has drawn every chart it declares (or failed)."""
    page.goto(path.as_uri())
    page.wait_for_function("document.body.dataset.chartsRendered || document.body.dataset.chartsFailed", timeout=60_000)


@pytest.fixture(scope="module")
def written(marts_world, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    folder = tmp_path_factory.mktemp("report-html")
    path = folder / "report.html"
    return path, run_report(marts_world[0], folder / "home", path)


def test_the_report_opens_offline_and_draws_every_chart(written, marts_world, offline_page):
    path, result = written
    assert result.returncode == 0, result.stderr
    page, log = offline_page
    open_offline(page, path)
    assert log.outside_requests == []
    assert log.console_errors == [] and log.page_errors == []
    assert page.evaluate("document.body.dataset.chartsFailed") is None
    declared = chart_specs(path.read_text())
    assert set(declared) == CHARTS, "every chart has its marts in a full world"
    assert page.locator("[data-note]").count() == 0
    assert page.locator("[data-chart] svg.marks").count() == len(declared)
    # the heat map draws one cell per row of the mart, as BI would read it
    (cohort_rows,) = query(marts_world[0], "select count(*) from marts.fct_cohort_retention")[0]
    assert page.locator('[data-chart="cohort_retention"] .mark-rect.role-mark path').count() == cohort_rows


def test_the_tiles_and_the_mrr_chart_show_the_published_marts(written, marts_world):
    path, _ = written
    html = path.read_text()
    url = marts_world[0]
    month, mrr = query(
        url,
        "select month, closing_mrr from marts.fct_revenue_retention_monthly"
        " where segment = 'all' and not is_partial_month order by month desc limit 1",
    )[0]
    assert f'data-month="{month.isoformat()}"' in html
    tile = re.search(r'data-metric="mrr" data-value="([^"]+)">.*?<div class="value">([^<]+)</div>', html, re.S)
    assert tile and float(tile.group(1)) == float(mrr) and tile.group(2) == f"{mrr:,.2f} USD"
    ((nps,),) = query(url, "select nps from marts.fct_nps_monthly where segment = 'all' and month = %s", month)
    nps_tile = re.search(r'data-metric="nps" data-value="([^"]+)"', html)
    assert nps_tile and float(nps_tile.group(1)) == float(nps)

    columns = [
        "month",
        "is_partial_month",
        "opening_mrr",
        "new_mrr",
        "reactivation_mrr",
        "expansion_mrr",
        "contraction_mrr",
        "churned_mrr",
        "closing_mrr",
    ]
    rows = query(
        url,
        f"select {', '.join(columns)} from marts.fct_revenue_retention_monthly where segment = 'all' order by month",
    )
    published = [{c: as_json(v) for c, v in zip(columns, row, strict=True)} for row in rows]
    spec = chart_specs(html)["mrr_movements"]
    shown = spec["data"]["values"] if "values" in spec.get("data", {}) else next(iter(spec["datasets"].values()))
    assert shown == published


def test_the_predicted_ltv_section_shows_the_daily_fit_and_every_valued_customer(written, marts_world):
    """The section's table is the latest daily fit of marts.ltv_model_fit; the world has no backtest, so the
    holdout error says how to get one; the chart's bins hold every customer of fct_predicted_ltv, each bin the
    customers whose predicted CLV falls in it, and its channels are dim_customers' channels."""
    path, _ = written
    html = path.read_text()
    url = marts_world[0]
    [(fit_id, as_of, customers, repeat)] = query(
        url,
        "select fit_id, as_of_date, n_customers, n_repeat_customers from marts.ltv_model_fit"
        " where fit_kind = 'pipeline' order by as_of_date desc limit 1",
    )
    facts = dict(re.findall(r'<tr data-fact="([a-z_]+)"(?: data-value="([^"]*)")?>', html))
    assert (facts["fit_id"], facts["as_of_date"]) == (fit_id, as_of.isoformat())
    assert (facts["n_customers"], facts["n_repeat_customers"]) == (str(customers), str(repeat))
    assert facts["converged"] == "true"
    assert query(url, "select count(*) from marts.ltv_model_fit where fit_kind = 'backtest'") == [(0,)]
    assert facts["holdout_error"] == "", "no backtest: a line, not a number"

    histogram, by_channel = (chart["data"]["values"] for chart in chart_specs(html)["predicted_ltv"]["hconcat"])
    [(valued,)] = query(url, "select count(*) from marts.fct_predicted_ltv")
    assert sum(row["customers"] for row in histogram) == valued > 0
    for row in histogram:
        upper = "" if row["upper_usd"] is None else f" and predicted_clv_usd < {row['upper_usd']}"
        lower = f"predicted_clv_usd >= {row['lower_usd']}"
        assert query(url, f"select count(*) from marts.fct_predicted_ltv where {lower}{upper}") == [
            (row["customers"],)
        ], row
    channels = dict(query(url, "select acquisition_channel, count(*) from marts.dim_customers group by 1"))
    assert {row["channel"]: row["customers"] for row in by_channel} == channels


def test_nothing_in_the_file_is_fetched_from_the_network(written):
    path, _ = written
    html = path.read_text()
    assert (
        re.findall(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", html, re.I) == []
    )
    assert re.findall(r"""url\(\s*["']?(?:https?:)?//""", html, re.I) == []
    assert "vegaEmbed" in html and len(html) > 500_000, "the vega bundle is inline"


def test_an_unwritable_path_fails_with_one_line_and_leaves_nothing_behind(marts_world, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "report.html").mkdir()  # a directory where the file should go
    for path in (folder / "report.html", tmp_path / "no such folder" / "report.html"):
        result = run_report(marts_world[0], tmp_path / "home", path)
        assert result.returncode != 0
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
        assert str(path) in result.stderr.replace("\n", "")
    assert [p.name for p in folder.iterdir()] == ["report.html"], "no temporary file is left beside it"


# -- a company with the exports it has ---------------------------------------------------------------------------
EMPTIED = ("fct_support_performance_monthly", "fct_support_tickets", "fct_nps_monthly", "fct_survey_responses")
DROPPED = "fct_cohort_retention"


def copy_published_marts(source_url: str, target_url: str) -> None:
    """The marts of `source_url`, table by table (columns, types, rows), into schema marts of `target_url`."""
    with psycopg.connect(source_url) as source, psycopg.connect(target_url, autocommit=True) as target:
        target.execute("create schema marts")
        tables = [
            r[0]
            for r in source.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
            )
        ]
        for table in tables:
            columns = source.execute(
                "select attname, format_type(atttypid, atttypmod) from pg_attribute"
                " where attrelid = %s::regclass and attnum > 0 and not attisdropped order by attnum",
                [f'marts."{table}"'],
            ).fetchall()
            target.execute(
                sql.SQL("create table marts.{} ({})").format(
                    sql.Identifier(table),
                    sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in columns),
                )
            )
            copy_out = sql.SQL("copy marts.{} to stdout (format binary)").format(sql.Identifier(table))
            copy_in = sql.SQL("copy marts.{} from stdin (format binary)").format(sql.Identifier(table))
            with source.cursor().copy(copy_out) as out, target.cursor().copy(copy_in) as into:
                for block in out:
                    into.write(block)


def test_a_company_without_help_desk_surveys_or_cohorts_gets_a_note_for_each(
    server, marts_world, tmp_path, offline_page
):
    """Published marts as a company without a help desk or surveys would have them (their marts empty, the
    coverage saying those exports are absent) and one mart not published at all."""
    url = create_database(server, "t_report_html_partial")
    copy_published_marts(marts_world[0], url)
    with psycopg.connect(url, autocommit=True) as conn:
        for table in EMPTIED:
            conn.execute(sql.SQL("truncate marts.{}").format(sql.Identifier(table)))
        conn.execute(sql.SQL("drop table marts.{}").format(sql.Identifier(DROPPED)))
        conn.execute(
            "update marts.mart_source_coverage set is_present = false, has_required_sources = false"
            " where source_name in ('support', 'survey')"
        )
    path = tmp_path / "partial.html"
    result = run_report(url, tmp_path / "home", path)
    assert result.returncode == 0, result.stderr
    html = path.read_text()
    notes = {"nps_csat", "sla_attainment", "cohort_retention", "headlines"}
    assert set(re.findall(r'data-note="([a-z_]+)"', html)) == notes
    absent = re.search(r'data-note="headlines" data-absent="([a-z_ ]+)"', html)
    assert absent and set(absent.group(1).split()) == {"nps", "csat", "first_reply_sla", "resolution_sla"}, (
        "the headline names the survey and help-desk figures it has none of, in one note, and shows no empty tile"
    )
    assert set(chart_specs(html)) == CHARTS - notes
    assert 'data-metric="mrr"' in html, "the revenue headlines stand without the help desk"

    page, log = offline_page
    open_offline(page, path)
    assert log.outside_requests == [] and log.console_errors == [] and log.page_errors == []
    assert page.locator("[data-chart] svg.marks").count() == 4
