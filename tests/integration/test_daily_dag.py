"""`tealeaves_daily` end to end on real parts: exports → raw → GX raw gate → dbt → GX marts gate → published marts,
with real local mail and Slack stand-ins receiving the alerts.

The story, in order: a clean day is published; a bad delivery (negative amounts) stops the run at the raw gate,
BI keeps the previous marts row for row and the data team gets one alert; the corrected delivery is published and
a recovery message follows. The hourly `tealeaves_quality` DAG then finds a stale source, alerts once, and
recovers. The CAC mart is checked against numbers computed here straight from the generated files.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tealeaves.generate import default_truth, generate
from tealeaves.orchestrate import MARKERS
from tests.conftest import TEALEAVES
from tests.outside_services import mail_server, plain, slack_text, slack_webhook

pytestmark = pytest.mark.e2e
LOGICAL_DATE = datetime(2026, 1, 15, tzinfo=UTC)
REDELIVERY = "invoices__redelivery.jsonl"
BUILDS = ("build_marts", "build_predicted_marts")  # the DAG's two dbt task groups
PRODUCER = "dbt_producer_watcher"  # the task of each group that runs its `dbt build`


def month_of(moment: datetime | date) -> date:
    return date(moment.year, moment.month, 1)


def expected_acquisition_cost(data: Path) -> dict[tuple[date, str], tuple[Decimal, int, Decimal | None]]:
    """Paid CAC per month and channel, from the raw export files alone."""
    with open(data / "crm" / "companies.csv", newline="") as handle:
        channel_of = {
            row["hs_object_id"]: (row["hs_analytics_source"] or "UNKNOWN").upper() for row in csv.DictReader(handle)
        }
    customers = [json.loads(line) for line in (data / "billing" / "customers.jsonl").read_text().splitlines()]
    key_of = {}
    for c in customers:
        company = c["metadata"].get("hubspot_company_id")
        key_of[c["id"]] = f"crm:{company}" if company in channel_of else f"billing:{c['id']}"
    first_paid: dict[str, datetime] = {}
    for line in (data / "billing" / "invoices.jsonl").read_text().splitlines():
        invoice = json.loads(line)
        if invoice["status"] == "paid" and invoice["amount_paid"] > 0:
            key = key_of[invoice["customer"]]
            paid_at = datetime.fromtimestamp(invoice["created"], UTC)
            first_paid[key] = min(paid_at, first_paid.get(key, paid_at))
    new_customers: dict[tuple[date, str], int] = defaultdict(int)
    for key, paid_at in first_paid.items():
        channel = channel_of[key.removeprefix("crm:")] if key.startswith("crm:") else "UNKNOWN"
        new_customers[(month_of(paid_at), channel)] += 1
    spend: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    with open(data / "crm" / "marketing_spend.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            spend[(month_of(date.fromisoformat(row["spend_date"])), row["channel"])] += Decimal(row["spend"])
    cells = set(spend) | set(new_customers)
    first, last = min(m for m, _ in cells), max(m for m, _ in cells)
    months = [
        date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1)
        for i in range((last.year - first.year) * 12 + last.month - first.month + 1)
    ]
    expected = {}
    for month in months:
        for channel in {c for _, c in cells}:
            s, n = spend.get((month, channel), Decimal("0")), new_customers.get((month, channel), 0)
            cac = (s / n).quantize(Decimal("0.01"), ROUND_HALF_UP) if n else None
            expected[(month, channel)] = (s.quantize(Decimal("0.01")), n, cac)
    return expected


def published_acquisition_cost(url: str) -> dict[tuple[date, str], tuple[Decimal, int, Decimal | None]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("select month, channel, spend, new_customers, cac from marts.fct_acquisition_cost")
        return {(m, c): (s, n, cac) for m, c, s, n, cac in rows if c != "UNALLOCATED"}


def marts_fingerprint(url: str) -> dict[str, tuple[int, str]]:
    """Row count and a digest of every row of every published mart: equal means BI sees the same numbers."""
    with psycopg.connect(url) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
            )
        ]
        query = "select count(*), coalesce(md5(string_agg(t::text, '|' order by t::text)), '') from {} as t"
        return {t: tuple(conn.execute(sql.SQL(query).format(sql.Identifier("marts", t))).fetchone()) for t in tables}


def loaded_batches(url: str) -> dict[str, list[str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("select file_name, validation from raw.load_batches where status = 'loaded' order by 1, 2")
        found: dict[str, list[str]] = defaultdict(list)
        for name, validation in rows:
            found[name].append(validation)
        return found


def run_daily_dag(dagbag):
    """One run of tealeaves_daily, the markers marked as `tealeaves run` and a scheduler do (orchestrate.MARKERS)."""
    return dagbag.dags["tealeaves_daily"].test(logical_date=LOGICAL_DATE, mark_success_pattern=MARKERS)


def producer_records(run) -> dict[str, object]:
    """What the run's two dbt builds recorded as they went, by XCom key: Cosmos' producer follows dbt's log and
    keeps each node's status (`get_status_xcom_key`) and, once all of a model's tests have finished, their
    combined result, pass or fail (`get_tests_status_xcom_key`)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(XComModel.key, XComModel.value).where(
                XComModel.dag_id == run.dag_id,
                XComModel.run_id == run.run_id,
                XComModel.task_id.in_([f"{group}.{PRODUCER}" for group in BUILDS]),
            )
        ).all()
    return {row.key: XComModel.deserialize_value(row) for row in rows}


@pytest.fixture(scope="module")
def alerts():
    """A real SMTP server and a Slack stand-in, configured for the module's DAG runs (as a deployment would)."""
    with mail_server() as (inbox, port), slack_webhook() as slack, pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEALEAVES_ALERT_SMTP_URL", f"smtp://127.0.0.1:{port}")
        patch.setenv("TEALEAVES_ALERT_EMAIL_FROM", "tealeaves@example.com")
        patch.setenv("TEALEAVES_ALERT_EMAIL_TO", "oncall@example.com")
        patch.setenv("TEALEAVES_ALERT_SLACK_WEBHOOK_URL", slack.url)
        yield inbox, slack


@pytest.fixture(scope="module")
def exports(airflow_ready):
    # Clean exports: this test recomputes CAC by hand; the planted mess has tests of its own.
    generate(airflow_ready.data_dir, customers=250, months=6, seed=11, truth=default_truth().clean())
    return airflow_ready.data_dir


@pytest.fixture(scope="module")
def first_run(dagbag, exports, alerts):
    return run_daily_dag(dagbag)


@pytest.fixture(scope="module")
def published_before(first_run, warehouse_url):
    return marts_fingerprint(warehouse_url)


@pytest.fixture(scope="module")
def bad_run(dagbag, exports, published_before):
    """The billing system re-delivers 30 invoices, with their amounts turned negative by a broken export."""
    invoices = (exports / "billing" / "invoices.jsonl").read_text().splitlines()[:30]
    broken = [dict(json.loads(line), amount_paid=-500) for line in invoices]
    (exports / "billing" / REDELIVERY).write_text("".join(json.dumps(r) + "\n" for r in broken))
    return run_daily_dag(dagbag)


@pytest.fixture(scope="module")
def fixed_run(dagbag, exports, bad_run, alerts):
    """The billing team re-exports the same 30 invoices correctly, under the same file name."""
    sent_before = (len(alerts[0].messages), len(alerts[1].payloads))
    invoices = (exports / "billing" / "invoices.jsonl").read_text().splitlines()[:30]
    (exports / "billing" / REDELIVERY).write_text("\n".join(invoices) + "\n")
    return run_daily_dag(dagbag), sent_before


# -- a clean day --------------------------------------------------------------------------------------------


def test_daily_run_succeeds_through_every_stage(first_run, warehouse_url, alerts):
    assert first_run.state == "success"
    with psycopg.connect(warehouse_url) as conn:
        gate = conn.execute(
            "select bool_and(success), count(*) from quality.validation_runs where run_id = %s", [first_run.run_id]
        ).fetchone()
        raw_gate = conn.execute(
            "select bool_and(success), count(*) from quality.validation_runs where run_id = %s",
            [f"{first_run.run_id}:raw"],
        ).fetchone()
        verdicts = conn.execute(
            "select count(*) filter (where validation = 'passed' and validation_run_id = %s), count(*)"
            " from raw.load_batches where status = 'loaded'",
            [f"{first_run.run_id}:raw"],
        ).fetchone()
        schemas = {r[0] for r in conn.execute("select nspname from pg_namespace")}
    assert gate[0] is True and gate[1] >= 1, "the marts gate recorded a passing verdict"
    assert raw_gate[0] is True and raw_gate[1] >= 1, "the raw gate recorded a passing verdict"
    assert verdicts[0] == verdicts[1] > 30, "every loaded batch was checked, and passed, before dbt read it"
    assert "marts" in schemas and "marts_build" not in schemas, "the audited build was published"
    assert alerts[0].messages == [] and alerts[1].payloads == [], "a good day sends nobody anything"


def test_the_data_tests_run_inside_the_two_dbt_builds_and_the_unit_tests_do_not(first_run, manifest):
    """The DAG has no task per test (test_dag_files.py): dbt runs each model's data tests in the model's build, and
    on a clean day none fails. dbt's unit tests are left to `make test`."""
    from cosmos.operators._watcher.aggregation import get_tests_status_xcom_key
    from cosmos.operators._watcher.state import get_status_xcom_key

    nodes = json.loads(manifest.read_text())
    tests = [n for n in nodes["nodes"].values() if n["resource_type"] == "test"]
    tested = {uid for t in tests for uid in t["depends_on"]["nodes"] if uid.startswith(("model.", "seed."))}
    records = producer_records(first_run)
    results = {uid: records.get(get_tests_status_xcom_key(uid)) for uid in tested}
    assert tested and set(results.values()) == {"pass"}, "every tested model's tests ran, and passed"
    assert nodes["unit_tests"] and not {get_status_xcom_key(uid) for uid in nodes["unit_tests"]} & records.keys()


def test_published_cac_matches_numbers_computed_from_the_exports(first_run, exports, warehouse_url):
    expected = expected_acquisition_cost(exports)
    published = published_acquisition_cost(warehouse_url)
    assert published.keys() == expected.keys()
    mismatches = {k: (published[k], expected[k]) for k in expected if published[k] != expected[k]}
    assert mismatches == {}
    written = json.loads((exports / "truth.json").read_text())["customers"]
    assert sum(n for _, n, _ in published.values()) == written, "every generated customer is counted once"


def test_every_mart_the_issue_names_is_published_with_rows(published_before):
    marts = {
        "dim_customers",
        "fct_mrr_movements",
        "fct_revenue_retention_monthly",
        "fct_cohort_retention",
        "fct_acquisition_cost",
        "fct_customer_lifetime_value",
        "fct_ltv_cac",
        "fct_acquisition_vs_retention_cost",
        "fct_support_tickets",
        "fct_support_performance_monthly",
        "fct_survey_responses",
        "fct_nps_monthly",
        "fct_product_input",
        "fct_customer_health",
    }
    assert marts <= published_before.keys()
    assert {m for m in marts if published_before[m][0] == 0} == set()


def test_report_prints_the_latest_months_headline_metrics(first_run):
    result = subprocess.run([TEALEAVES, "report"], env=os.environ, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for metric in ("Blended CAC", "Net revenue retention", "Formula LTV", "LTV : CAC", "Cost to retain", "NPS"):
        assert metric in result.stdout
    assert "LTV and CAC by acquisition channel" in result.stdout and "PAID_SEARCH" in result.stdout


def test_dbt_docs_describe_every_column_of_every_mart(first_run, settings):
    result = subprocess.run(
        [TEALEAVES, "docs", "--no-serve"], env=os.environ, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    target = settings.docs_dir / "dbt"
    assert (target / "static_index.html").is_file()
    catalog = json.loads((target / "catalog.json").read_text())["nodes"]
    manifest = json.loads((target / "manifest.json").read_text())["nodes"]
    undocumented = []
    for node_id, node in catalog.items():
        if node["metadata"]["schema"] != "marts":
            continue
        documented = {c: v["description"].strip() for c, v in manifest[node_id]["columns"].items()}
        undocumented += [f"{node_id}.{c}" for c in node["columns"] if not documented.get(c)]
    assert len([n for n in catalog.values() if n["metadata"]["schema"] == "marts"]) >= 14
    assert undocumented == []


# -- a bad delivery, then its fix -----------------------------------------------------------------------------


def test_a_bad_delivery_stops_at_the_raw_gate_and_bi_keeps_the_last_good_marts(
    bad_run, published_before, warehouse_url
):
    assert bad_run.state == "failed"
    states = {ti.task_id: ti.state for ti in bad_run.get_task_instances()}
    assert states["validate_raw"] == "failed"
    assert states["publish_marts"] != "success"
    assert marts_fingerprint(warehouse_url) == published_before, "marts unchanged, row for row"
    assert loaded_batches(warehouse_url)[REDELIVERY] == ["failed"], "the bad file is kept in raw, held back"


def test_the_data_team_gets_one_alert_naming_the_failed_expectation(bad_run, alerts):
    inbox, slack = alerts
    assert len(inbox.messages) == 1 and len(slack.payloads) == 1
    for seen in (inbox.messages[0]["Subject"] + "\n" + plain(inbox.messages[0]), slack_text(slack.payloads[0])):
        assert "No negative amount paid" in seen
        assert REDELIVERY in seen, "the batch held back from staging is named"


def test_the_corrected_delivery_is_published_and_a_recovery_message_follows(
    fixed_run, published_before, warehouse_url, alerts
):
    run, (emails_before, slacks_before) = fixed_run
    assert run.state == "success"
    assert loaded_batches(warehouse_url)[REDELIVERY] == ["failed", "passed"]
    assert all(v == ["passed"] for f, v in loaded_batches(warehouse_url).items() if f != REDELIVERY), (
        "rerunning reloaded none of the unchanged files"
    )
    assert marts_fingerprint(warehouse_url) == published_before, "re-delivered copies of known invoices change nothing"
    inbox, slack = alerts
    assert len(inbox.messages) == emails_before + 1 and len(slack.payloads) == slacks_before + 1
    assert "validate_raw" in slack_text(slack.payloads[-1]) and "FAILED" not in inbox.messages[-1]["Subject"]


# -- a failed dbt test ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def failed_build_run(dagbag, fixed_run, warehouse_url, alerts):
    """A price type no dbt test allows, put straight into raw (so no new batch reaches the raw gate): only dbt's
    tests can catch it. Prices are a lookup table staging rebuilds whole each run; a table staged incrementally
    would rightly not re-stage a row changed in place, which no new batch carries. The row is put back
    afterwards."""
    sent_before = (len(alerts[0].messages), len(alerts[1].payloads))
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        price = conn.execute(
            "update raw.billing_prices set type = 'bogus'"
            " where ctid = (select ctid from raw.billing_prices where type = 'recurring' limit 1) returning id"
        ).fetchone()[0]
    try:
        run = run_daily_dag(dagbag)
    finally:
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            conn.execute("update raw.billing_prices set type = 'recurring' where id = %s", [price])
    return run, sent_before


def test_a_failed_dbt_test_stops_the_run_before_the_gate_and_the_alert_names_it(
    failed_build_run, published_before, warehouse_url, alerts, manifest
):
    run, (emails_before, slacks_before) = failed_build_run
    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["build_marts.dbt_producer_watcher"] == "failed"
    # dbt built none of the models the failed test guards; no model's task waits for a state: each ends with the
    # build that failed.
    from cosmos.operators._watcher.state import get_status_xcom_key, is_dbt_node_status_success

    nodes = json.loads(manifest.read_text())
    tested = "model.tealeaves.stg_billing__prices"
    downstream = [uid for uid in nodes["child_map"][tested] if uid.startswith("model.")]
    records = producer_records(run)
    assert records[get_status_xcom_key(tested)]["status"] == "success", "the model was built, then failed its test"
    statuses = [(records.get(get_status_xcom_key(uid)) or {}).get("status") for uid in downstream]
    assert downstream and not [s for s in statuses if is_dbt_node_status_success(s)]
    others = {t for t in states if t.startswith(BUILDS) and t != "build_marts.dbt_producer_watcher"}
    assert others and {states[t] for t in others} == {"upstream_failed"}
    assert {states[t] for t in ("predict_ltv", "validate_marts", "publish_marts")} == {"upstream_failed"}
    assert marts_fingerprint(warehouse_url) == published_before, "BI keeps the last good marts, row for row"
    inbox, slack = alerts
    assert len(inbox.messages) == emails_before + 1 and len(slack.payloads) == slacks_before + 1
    failed_test = "column_values_stg_billing__prices"
    # and what the test's name does not say: its failing row, the column, the check and the value planted above
    failing_row = (
        'column_name="price_type"  failed_check="accepted values"  failing_rows=1  unaccepted_values=["bogus"]'
    )
    for text in (plain(inbox.messages[-1]), slack_text(slack.payloads[-1])):
        assert failed_test in text and failing_row in text, text


# -- the hourly watch -----------------------------------------------------------------------------------------


def test_a_stale_source_alerts_once_not_every_hour_and_recovers(fixed_run, dagbag, warehouse_url, alerts):
    inbox, slack = alerts
    quality = dagbag.dags["tealeaves_quality"]
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("update raw.crm_marketing_spend set _loaded_at = _loaded_at - interval '4 days'")
    mails, posts = len(inbox.messages), len(slack.payloads)

    stale = quality.test()
    again = quality.test()  # the next hour: still stale, nothing new to tell

    assert stale.state == "failed" and again.state == "failed"
    assert len(slack.payloads) == posts + 1 and len(inbox.messages) == mails + 1
    told = slack_text(slack.payloads[-1])
    assert "crm" in told and "marketing_spend" in told

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("update raw.crm_marketing_spend set _loaded_at = now()")
    fresh = quality.test()

    assert fresh.state == "success"
    assert len(slack.payloads) == posts + 2 and len(inbox.messages) == mails + 2, "one recovery message"
