"""The semantic layer answers as the marts do: `tealeaves metrics query`, run as a user runs it, against the
published marts of the marts_world, equals the mart column that publishes each metric, read with a plain select.

The oracle is the marts (built and tested by dbt against the generator's truth elsewhere), not a re-statement of
the metrics' formulas. Each query asks several metrics at once, so the module starts MetricFlow a handful of times.
"""

from __future__ import annotations

import csv
import io
import json
import os
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
import yaml

from tests.cli import tealeaves
from tests.conftest import ROOT
from tests.warehouse import query

SEMANTIC_YAML = ROOT / "dbt_project" / "models" / "marts" / "_semantic__models.yml"
MONTH = "metric_time__month"


@pytest.fixture(scope="module")
def env(marts_world, manifest, tmp_path_factory) -> dict[str, str]:
    """A user's environment: their own home, the warehouse holding the published marts_world, a wide terminal."""
    url, _, _ = marts_world
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TEALEAVES_", "AIRFLOW"))}
    home = tmp_path_factory.mktemp("metrics-home")
    return {**clean, "TEALEAVES_HOME": str(home), "TEALEAVES_DATABASE_URL": url, "COLUMNS": "250"}


def metrics_csv(env: dict[str, str], *args: str) -> list[dict[str, str]]:
    done = tealeaves(env, "metrics", "query", "--csv", *args)
    assert done.returncode == 0, done.stderr
    return list(csv.DictReader(io.StringIO(done.stdout)))


def published(value: str, places: int) -> Decimal | None:
    """A CLI figure as the mart publishes it: rounded half away from zero, as PostgreSQL's round() does."""
    return None if value == "" else Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def key(*parts) -> tuple[str, ...]:
    return tuple("" if p is None else str(p) for p in parts)


def assert_matches(rows: list[dict[str, str]], keys: list[str], metric: str, mart: list[tuple], places: int) -> int:
    """`metric` in the CLI's rows equals the mart's value for every mart row (key columns first, value last).

    A row the CLI has and the mart lacks must be empty (MetricFlow joins several models on month: a month with
    no survey answers has no NPS). Returns how many non-null values were compared.
    """
    answered = {key(*(r[k] for k in keys)): r[metric] for r in rows}
    expected = {key(*row[:-1]): row[-1] for row in mart}
    assert expected, f"the mart has no rows for {metric}: the comparison would prove nothing"
    missing = sorted(set(expected) - set(answered))
    assert not missing, f"{metric}: the semantic layer has no row for {missing[:5]}"
    wrong = {k: (answered[k], expected[k]) for k in expected if published(answered[k], places) != expected[k]}
    assert not wrong, f"{metric} (CLI, mart) differ: {dict(list(wrong.items())[:5])}"
    extra = {k: answered[k] for k in set(answered) - set(expected) if answered[k] != ""}
    assert not extra, f"{metric}: figures for rows the mart does not have: {extra}"
    compared = sum(v is not None for v in expected.values())
    assert compared, f"every mart value of {metric} is null: the comparison would prove nothing"
    return compared


def test_cac_ltv_and_ltv_to_cac_by_channel_and_month_equal_the_marts(env, marts_world):
    url = marts_world[0]
    rows = metrics_csv(
        env,
        "--metrics",
        "paid_spend,new_customers,paid_cac,blended_cac,ltv,ltv_to_cac",
        "--group-by",
        f"{MONTH},channel",
    )
    keys = [MONTH, "acquisition_month_channel__channel"]
    cac = "select month, channel, {} from marts.fct_acquisition_cost"
    assert_matches(rows, keys, "paid_spend", query(url, cac.format("spend")), 2)
    assert_matches(rows, keys, "new_customers", query(url, cac.format("new_customers")), 0)
    assert_matches(rows, keys, "paid_cac", query(url, cac.format("cac")), 2)
    assert_matches(rows, keys, "blended_cac", query(url, cac.format("blended_cac")), 2)
    ltv_cac = "select cohort_month, acquisition_channel, {} from marts.fct_ltv_cac"
    assert_matches(rows, keys, "ltv", query(url, ltv_cac.format("formula_ltv_per_customer_usd")), 2)
    assert_matches(rows, keys, "ltv_to_cac", query(url, ltv_cac.format("formula_ltv_to_blended_cac")), 2)


def test_company_metrics_by_month_equal_the_marts(env, marts_world):
    """Cost to retain, NRR, GRR, logo churn, NPS, CSAT and their parts, from four semantic models in one query."""
    url = marts_world[0]
    by_month = {
        # metric: (mart, column, places); the marts with segments hold the company's figure in segment 'all'
        "blended_cac": ("fct_acquisition_vs_retention_cost", "cac", 2),
        "sales_marketing_cost": ("fct_acquisition_vs_retention_cost", "acquisition_cost", 2),
        "retention_cost": ("fct_acquisition_vs_retention_cost", "retention_cost", 2),
        "customers_retained": ("fct_acquisition_vs_retention_cost", "customers_retained", 0),
        "cost_to_retain": ("fct_acquisition_vs_retention_cost", "cost_to_retain", 2),
        "acquisition_to_retention_cost_ratio": (
            "fct_acquisition_vs_retention_cost",
            "acquisition_to_retention_cost_ratio",
            2,
        ),
        "opening_mrr": ("fct_revenue_retention_monthly", "opening_mrr", 2),
        "customers_at_start": ("fct_revenue_retention_monthly", "customers_at_start", 0),
        "churned_customers": ("fct_revenue_retention_monthly", "churned_customers", 0),
        "net_revenue_retention": ("fct_revenue_retention_monthly", "net_revenue_retention", 4),
        "gross_revenue_retention": ("fct_revenue_retention_monthly", "gross_revenue_retention", 4),
        "logo_churn_rate": ("fct_revenue_retention_monthly", "logo_churn_rate", 4),
        "nps": ("fct_nps_monthly", "nps", 2),
        "nps_promoters": ("fct_nps_monthly", "promoters", 0),
        "nps_detractors": ("fct_nps_monthly", "detractors", 0),
        "nps_answers": ("fct_nps_monthly", "nps_responses", 0),
        "csat": ("fct_nps_monthly", "csat", 4),
        "csat_satisfied": ("fct_nps_monthly", "csat_satisfied", 0),
        "csat_answers": ("fct_nps_monthly", "csat_responses", 0),
    }
    # retained_mrr_gross and retained_mrr_net (GRR's and NRR's numerators) have no mart column of their own:
    # they are asked here too, and must answer for every month the retention mart has.
    parts = ["retained_mrr_gross", "retained_mrr_net"]
    rows = metrics_csv(env, "--metrics", ",".join([*by_month, *parts]), "--group-by", MONTH)
    for metric, (mart, column, places) in by_month.items():
        mart_rows = query(url, f"select month, {column} from marts.{mart} where segment = 'all'")  # noqa: S608
        assert_matches(rows, [MONTH], metric, mart_rows, places)
    months = {str(m) for (m,) in query(url, "select month from marts.fct_revenue_retention_monthly")}
    for metric in parts:
        assert {r[MONTH] for r in rows if r[metric] != ""} == months, metric


def test_retention_by_segment_equals_each_segments_row(env, marts_world):
    """By segment, each segment's own row: never its figure added to segment 'all' (the marts' total row)."""
    url = marts_world[0]
    metrics = ["opening_mrr", "net_revenue_retention", "gross_revenue_retention", "logo_churn_rate"]
    rows = metrics_csv(env, "--metrics", ",".join(metrics), "--group-by", f"{MONTH},segment")
    keys = [MONTH, "revenue_month_segment__segment"]
    assert "all" not in {r[keys[1]] for r in rows}
    for metric, places in zip(metrics, (2, 4, 4, 4), strict=True):
        mart = f"select month, segment, {metric} from marts.fct_revenue_retention_monthly where segment <> 'all'"
        assert_matches(rows, keys, metric, query(url, mart), places)


def test_support_sla_by_month_priority_and_channel_equals_the_mart(env, marts_world):
    url = marts_world[0]
    metrics = ["first_reply_sla_attainment", "first_reply_sla_met", "first_reply_sla_measured"]
    rows = metrics_csv(env, "--metrics", ",".join(metrics), "--group-by", f"{MONTH},priority,channel")
    keys = [MONTH, "ticket__priority", "ticket__channel"]
    for metric, places in zip(metrics, (4, 0, 0), strict=True):
        # the mart has a row for every priority and channel of every month; the layer only where tickets are
        mart = query(url, f"select month, priority, channel, {metric} from marts.fct_support_performance_monthly")
        with_tickets = {key(*(r[k] for k in keys)) for r in rows}
        absent = [r for r in mart if key(*r[:3]) not in with_tickets]
        assert all(r[-1] in (None, 0) for r in absent), f"{metric}: mart figures without tickets: {absent[:3]}"
        assert_matches(rows, keys, metric, [r for r in mart if key(*r[:3]) in with_tickets], places)


def test_lifetime_value_by_cohort_and_channel_equals_the_cohort_mart(env, marts_world):
    url = marts_world[0]
    metrics = {
        "ltv": ("formula_ltv_per_customer_usd", 2),
        "historical_ltv": ("historical_ltv_usd", 2),
        "customers_with_formula_ltv": ("customers_with_formula_ltv", 0),
    }
    asked = ",".join([*metrics, "formula_ltv_total"])
    rows = metrics_csv(env, "--metrics", asked, "--group-by", f"{MONTH},customer__acquisition_channel")
    keys = [MONTH, "customer__acquisition_channel"]
    for metric, (column, places) in metrics.items():
        mart = f"select cohort_month, acquisition_channel, {column} from marts.fct_cohort_lifetime_value"
        assert_matches(rows, keys, metric, query(url, mart), places)
    # formula_ltv_total (LTV's numerator) has no mart column: it answers wherever LTV does
    assert all((r["formula_ltv_total"] == "") == (r["ltv"] == "") for r in rows)


def test_where_and_dates_narrow_the_answer(env, marts_world):
    url = marts_world[0]
    rows = metrics_csv(
        env,
        "--metrics",
        "blended_cac",
        "--group-by",
        MONTH,
        "--where",
        "{{ Dimension('acquisition_month_channel__channel') }} = 'PAID_SEARCH'",
        "--start",
        "2025-04-01",
        "--end",
        "2025-06-30",
    )
    mart = query(
        url,
        "select month, blended_cac from marts.fct_acquisition_cost"
        " where channel = 'PAID_SEARCH' and month between '2025-04-01' and '2025-06-30'",
    )
    assert len(mart) == 3
    assert_matches(rows, [MONTH], "blended_cac", mart, 2)


def test_list_names_every_metric_of_the_yaml(env):
    defined = [m["name"] for m in yaml.safe_load(SEMANTIC_YAML.read_text())["metrics"]]
    done = tealeaves(env, "metrics", "list")
    assert done.returncode == 0, done.stderr
    listed = {line.split("│")[1].strip() for line in done.stdout.splitlines() if line.count("│") > 2}
    assert set(defined) <= listed, sorted(set(defined) - listed)
    assert "acquisition_month_channel__channel" in done.stdout  # blended_cac's dimensions are shown


def test_an_unknown_metric_is_one_line_naming_close_ones(env):
    done = tealeaves(env, "metrics", "query", "--metrics", "blended_cak", "--group-by", MONTH)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "blended_cak" in lines[0] and "blended_cac" in lines[0]
    assert done.stdout == ""


def test_the_semantic_configs_validate_against_the_warehouse(env):
    done = tealeaves(env, "metrics", "validate")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 errors" in done.stdout


def test_validation_fails_when_a_measure_names_a_missing_column(marts_world, manifest: Path):
    """The same check on the project's semantic manifest with one measure pointed at a column no mart has."""
    from metricflow_semantics.model.dbt_manifest_parser import parse_manifest_from_dbt_generated_manifest

    from tealeaves.semantic import SemanticLayer, published_relations

    raw = json.loads((manifest.parent / "semantic_manifest.json").read_text())
    model = next(m for m in raw["semantic_models"] if m["name"] == "acquisition_cost")
    measure = next(m for m in model["measures"] if m["name"] == "paid_spend")
    measure["expr"] = "spend_in_euros"
    broken = parse_manifest_from_dbt_generated_manifest(json.dumps(published_relations(raw)))
    layer = SemanticLayer(broken, marts_world[0])
    try:
        errors = [i for i in layer.validate_warehouse() if i.level == "ERROR"]
    finally:
        layer.close()
    assert errors, "a measure over a missing column passed validation"
    assert all("spend_in_euros" in i.text for i in errors), errors  # PostgreSQL names the column it lacks
