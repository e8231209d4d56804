"""Alerts reach the data team once per failure, with the evidence, and once more when it is fixed.

Real parts throughout: Apprise delivers; a real SMTP server (aiosmtpd) and real HTTP servers stand in for
Slack's incoming webhook, a Teams workflow and a JSON webhook (tests/outside_services.py); real PostgreSQL
keeps the no-repeat state, and a real Airflow DAG run raises task failures.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tealeaves.alerts import report_freshness, report_gate
from tealeaves.config import Settings, get_settings
from tealeaves.publications import record_publication
from tealeaves.quality.results import ExpectationOutcome, GateResult, SuiteResult
from tests.conftest import free_port
from tests.outside_services import (
    SLACK_TOKEN,
    TEAMS_SIGNATURE,
    TEAMS_WORKFLOW,
    WEBHOOK_TOKEN,
    Inbox,
    SlackWebhook,
    json_webhook,
    mail_server,
    plain,
    slack_text,
    slack_webhook,
    teams_text,
    teams_workflow,
)

ALERT_DAGS = Path(__file__).parent / "alert_dags"
T0 = datetime(2026, 1, 15, 6, 30, tzinfo=UTC)
ONCALL, TEAM = "oncall@example.com", "data-team@example.com"
RECIPIENTS = f"{ONCALL},{TEAM}"


# --- stand-ins for what lies outside: a mail server and Slack (tests/outside_services.py) ---------------


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    with mail_server() as served:
        yield served


@pytest.fixture
def slack() -> Iterator[SlackWebhook]:
    with slack_webhook() as server:
        yield server


# --- settings and data ---------------------------------------------------------------------------------


@pytest.fixture
def configure(monkeypatch, fresh_database):
    """Point tealeaves at this test's database and at the given alert channels; returns the Settings."""

    def apply(smtp_port: int | None = None, slack_url: str | None = None, **extra: str) -> Settings:
        monkeypatch.setenv("TEALEAVES_DATABASE_URL", fresh_database)
        for name in ("URLS", "SMTP_URL", "EMAIL_FROM", "EMAIL_TO", "SLACK_WEBHOOK_URL"):
            monkeypatch.delenv(f"TEALEAVES_ALERT_{name}", raising=False)
        if smtp_port:
            monkeypatch.setenv("TEALEAVES_ALERT_SMTP_URL", f"smtp://127.0.0.1:{smtp_port}")
            monkeypatch.setenv("TEALEAVES_ALERT_EMAIL_FROM", "tealeaves@example.com")
            monkeypatch.setenv("TEALEAVES_ALERT_EMAIL_TO", RECIPIENTS)
        if slack_url:
            monkeypatch.setenv("TEALEAVES_ALERT_SLACK_WEBHOOK_URL", slack_url)
        monkeypatch.setenv("TEALEAVES_DOCS_URL", "http://docs.example.com/tealeaves/data_docs/index.html")
        for name, value in extra.items():
            monkeypatch.setenv(name, value)
        return get_settings()

    return apply


@pytest.fixture
def published_yesterday(fresh_database: str) -> str:
    """A warehouse as the daily run leaves it when the gate fails: yesterday's marts, today's unpublished build."""
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("create schema marts; create schema marts_build")
    record_publication(
        fresh_database,
        "scheduled__2026-01-14T00:00:00+00:00",
        {"fct_acquisition_cost": 240, "dim_customers": 400},
        now=datetime(2026, 1, 14, 6, 12, tzinfo=UTC),
    )
    return fresh_database


def gate_result(run_id: str, negative_spend: bool) -> GateResult:
    """What the gate reports on `fct_acquisition_cost`: negative spend in two rows, or all clean."""
    spend = ExpectationOutcome(
        suite="fct_acquisition_cost",
        table="marts_build.fct_acquisition_cost",
        expectation_type="expect_column_values_to_be_between",
        column="spend",
        kwargs={"column": "spend", "min_value": 0},
        severity="blocking",
        success=not negative_spend,
        observed_value={"element_count": 240, "unexpected_count": 2 if negative_spend else 0, "missing_count": 0},
        unexpected_count=2 if negative_spend else 0,
        unexpected_sample=[
            {"month": "2025-11-01", "channel": "PAID_SEARCH", "spend": -120.5},
            {"month": "2025-12-01", "channel": "EVENTS", "spend": -3.0},
        ]
        if negative_spend
        else [],
    )
    grain = ExpectationOutcome(
        suite="fct_acquisition_cost",
        table="marts_build.fct_acquisition_cost",
        expectation_type="expect_compound_columns_to_be_unique",
        column="month, channel",
        kwargs={"column_list": ["month", "channel"]},
        severity="blocking",
        success=True,
        observed_value={"element_count": 240, "unexpected_count": 0},
        unexpected_count=0,
        unexpected_sample=[],
    )
    suite = SuiteResult("fct_acquisition_cost", "marts_build", "fct_acquisition_cost", T0, T0, (spend, grain))
    return GateResult(run_id, (suite,))


# --- the quality gate ----------------------------------------------------------------------------------


def test_a_failed_gate_sends_one_email_and_one_slack_message_with_the_evidence(
    configure, smtp_server, slack, published_yesterday
):
    inbox, port = smtp_server
    settings = configure(smtp_port=port, slack_url=slack.url)

    report = report_gate(settings, "tealeaves_daily", "scheduled__2026-01-15", gate_result("r1", True), now=T0)

    assert report.sent == "failing"
    assert sorted(m["To"] for m in inbox.messages) == sorted([ONCALL, TEAM]), "one message to each recipient"
    assert len(slack.payloads) == 1
    message = inbox.to(ONCALL)[0]
    assert "Quality gate FAILED in tealeaves_daily" in message["Subject"]
    assert message["X-Tealeaves-Alert"] == "gate:tealeaves_daily; failing"  # what mail filters match on
    body, html, posted = plain(message), message.get_body(("html",)).get_content(), slack_text(slack.payloads[0])
    for seen in (body, posted):
        assert "expect_column_values_to_be_between(spend) expected min_value=0" in seen  # what was expected
        assert "found 2 of 240 rows unexpected" in seen  # what was observed
        assert 'month="2025-11-01"  channel="PAID_SEARCH"  spend=-120.5' in seen  # an offending row
        assert "scheduled__2026-01-15 in schema `marts_build` was NOT published" in seen  # held back
        assert "BI still reads `marts` as published at 2026-01-14 06:12 UTC" in seen  # what BI reads instead
        assert "http://docs.example.com/tealeaves/data_docs/index.html" in seen  # where to look
    assert "PAID_SEARCH" in html and "<pre>" in html


def test_the_same_failure_an_hour_later_sends_nothing_and_the_next_pass_sends_one_recovery(
    configure, smtp_server, slack, published_yesterday
):
    inbox, port = smtp_server
    settings = configure(smtp_port=port, slack_url=slack.url)
    report_gate(settings, "tealeaves_daily", "run-1", gate_result("run-1", True), now=T0)

    again = report_gate(settings, "tealeaves_daily", "run-2", gate_result("run-2", True), now=T0 + timedelta(hours=1))
    assert again.sent is None
    assert (len(inbox.to(ONCALL)), len(inbox.to(TEAM)), len(slack.payloads)) == (1, 1, 1)

    fixed = report_gate(settings, "tealeaves_daily", "run-3", gate_result("run-3", False), now=T0 + timedelta(hours=2))
    assert fixed.sent == "recovered"
    assert (len(inbox.to(ONCALL)), len(inbox.to(TEAM)), len(slack.payloads)) == (2, 2, 2)
    recovery = inbox.to(ONCALL)[1]
    assert recovery["X-Tealeaves-Alert"] == "gate:tealeaves_daily; recovered"
    for seen in (recovery["Subject"] + plain(recovery), slack_text(slack.payloads[1])):
        assert "Quality gate passes again in tealeaves_daily" in seen
        assert "failing since 2026-01-15 06:30 UTC (2 h)" in seen

    still_fine = report_gate(
        settings, "tealeaves_daily", "run-4", gate_result("run-4", False), now=T0 + timedelta(hours=3)
    )
    assert still_fine.sent is None
    assert (len(inbox.to(ONCALL)), len(inbox.to(TEAM)), len(slack.payloads)) == (2, 2, 2)


def test_a_failure_still_open_after_a_day_is_reminded_once(configure, slack, published_yesterday):
    settings = configure(slack_url=slack.url, TEALEAVES_ALERT_REMIND_HOURS="24")
    for hours in (0, 12, 25, 30):
        report_gate(
            settings, "tealeaves_daily", f"run-{hours}", gate_result("r", True), now=T0 + timedelta(hours=hours)
        )

    assert len(slack.payloads) == 2
    assert slack_text(slack.payloads[1]).startswith("[tealeaves] Still failing since 2026-01-15 06:30 UTC (1 d 1 h)")


def test_two_reporters_of_the_same_failure_at_once_send_one_alert(configure, slack, published_yesterday):
    """A retried task and a backfill can report together; the locked state row lets only one of them send."""
    settings = configure(slack_url=slack.url)
    barrier = threading.Barrier(4)
    reports = []

    def reporter(n: int) -> None:
        barrier.wait()
        reports.append(report_gate(settings, "tealeaves_daily", f"run-{n}", gate_result(f"run-{n}", True), now=T0))

    threads = [threading.Thread(target=reporter, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(str(r.sent) for r in reports) == ["None", "None", "None", "failing"]
    assert len(slack.payloads) == 1


def test_a_channel_that_is_not_configured_is_skipped_without_error(configure, slack, published_yesterday, caplog):
    settings = configure(slack_url=slack.url)  # no SMTP anywhere

    with caplog.at_level(logging.INFO, logger="tealeaves.alerts"):
        report = report_gate(settings, "tealeaves_daily", "r1", gate_result("r1", True), now=T0)

    assert [(d.channel, d.ok) for d in report.deliveries] == [("slack", True)]
    assert len(slack.payloads) == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_email_configured_only_as_the_airflow_connection_tealeaves_smtp_is_delivered(
    configure, smtp_server, published_yesterday
):
    import airflow.sdk  # noqa: F401 - inside Airflow the SDK is loaded; connections are looked up then

    inbox, port = smtp_server
    connection = {"conn_type": "smtp", "host": "127.0.0.1", "port": port, "extra": {"to": RECIPIENTS}}
    settings = configure(AIRFLOW_CONN_TEALEAVES_SMTP=json.dumps(connection))

    report = report_gate(settings, "tealeaves_daily", "r1", gate_result("r1", True), now=T0)

    assert [(d.channel, d.ok) for d in report.deliveries] == [("email", True)]
    assert sorted(m["To"] for m in inbox.messages) == sorted([ONCALL, TEAM])


def test_an_unreachable_smtp_server_is_logged_clearly_and_slack_still_gets_the_alert(
    configure, slack, published_yesterday, caplog
):
    dead_port = free_port()  # nothing listens here
    settings = configure(smtp_port=dead_port, slack_url=slack.url)

    with caplog.at_level(logging.ERROR, logger="tealeaves.alerts"):
        report = report_gate(settings, "tealeaves_daily", "r1", gate_result("r1", True), now=T0)

    assert [(d.channel, d.ok) for d in report.deliveries] == [("email", False), ("slack", True)]
    assert len(slack.payloads) == 1
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"SMTP server 127.0.0.1:{dead_port}" in logged
    assert "TEALEAVES_ALERT_SMTP_URL" in logged  # says what to check


def test_a_bad_raw_batch_names_the_batch_held_back_and_the_marts_gate_keeps_its_own_alert(
    configure, slack, published_yesterday
):
    from tealeaves.alerts import report_raw_gate
    from tealeaves.quality.raw_gate import Batch, RawGateResult

    settings = configure(slack_url=slack.url)
    bad = Batch(batch_id=12, source="billing", entity="charges", file_name="charges.jsonl")
    raw = RawGateResult(gate=gate_result("r1:raw", True), passed_batches=(), failed_batches=(bad,), held_back=(bad,))

    report_raw_gate(settings, "tealeaves_daily", "r1", raw, task_id="validate_raw", now=T0)
    # The same batch still held back at a later run, with nothing new failing: no repeat.
    still = RawGateResult(gate=gate_result("r2:raw", False), passed_batches=(), failed_batches=(), held_back=(bad,))
    report_raw_gate(settings, "tealeaves_daily", "r2", still, task_id="validate_raw", now=T0 + timedelta(hours=12))
    report_gate(settings, "tealeaves_daily", "r2", gate_result("r2", True), task_id="validate_marts", now=T0)

    assert len(slack.payloads) == 2
    raw_text, marts_text = slack_text(slack.payloads[0]), slack_text(slack.payloads[1])
    assert "Quality gate FAILED in tealeaves_daily.validate_raw: 1 blocking failure, new data held back" in raw_text
    assert "batch 12 (billing/charges.jsonl): marked failed in raw.load_batches; staging skips it" in raw_text
    assert "BI still reads `marts` as published at 2026-01-14 06:12 UTC" in raw_text
    assert (
        "Quality gate FAILED in tealeaves_daily.validate_marts: 1 blocking failure, marts not published" in marts_text
    )


# --- destinations by Apprise URL, and the older settings translated into them --------------------------------


def test_teams_and_a_json_webhook_given_as_apprise_urls_receive_the_alert_and_its_recovery(
    configure, published_yesterday
):
    """Teams gets what Microsoft documents for a workflow started by "When a Teams webhook request is received": a
    `message` whose attachment is an Adaptive Card, posted to the workflow's trigger with its `sig`. The JSON
    webhook gets Apprise's documented payload (version, title, message, type)."""
    with teams_workflow() as teams, json_webhook() as hook:
        settings = configure(TEALEAVES_ALERT_URLS=f"{teams.url}\n  {hook.url}")
        report = report_gate(settings, "tealeaves_daily", "r1", gate_result("r1", True), now=T0)
        fixed = report_gate(settings, "tealeaves_daily", "r2", gate_result("r2", False), now=T0 + timedelta(hours=2))

    assert [(d.channel, d.ok) for d in report.deliveries] == [("teams", True), ("webhook", True)]
    assert fixed.sent == "recovered" and len(teams.payloads) == 2 and len(hook.payloads) == 2
    path, query = teams.requests[0]
    assert path == f"/workflows/{TEAMS_WORKFLOW}/triggers/manual/paths/invoke"
    assert query["sig"] == [TEAMS_SIGNATURE] and query["sp"] == ["/triggers/manual/run"]
    card = teams.payloads[0]
    assert card["type"] == "message"
    [attachment] = card["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["content"]["type"] == "AdaptiveCard"
    told = teams_text(card)
    assert "Quality gate FAILED in tealeaves_daily" in told
    assert "expect_column_values_to_be_between(spend) expected min_value=0" in told
    assert 'month="2025-11-01"  channel="PAID_SEARCH"  spend=-120.5' in told
    assert "BI still reads `marts` as published at 2026-01-14 06:12 UTC" in told
    assert "Quality gate passes again in tealeaves_daily" in teams_text(teams.payloads[1])

    assert hook.requests[0][0] == f"/hooks/{WEBHOOK_TOKEN}"
    failing, recovered = hook.payloads
    assert {"version", "title", "message", "type"} <= failing.keys()
    assert (failing["type"], recovered["type"]) == ("failure", "success")
    assert failing["title"].startswith("[tealeaves] Quality gate FAILED in tealeaves_daily")
    assert "found 2 of 240 rows unexpected" in failing["message"]
    assert recovered["title"].startswith("[tealeaves] Quality gate passes again in tealeaves_daily")


@pytest.mark.parametrize(
    "smtp_url",
    ["smtp://alerts:p%40ss%3Aword@127.0.0.1:{port}?starttls=true", "smtps://alerts:p%40ss%3Aword@127.0.0.1:{port}"],
    ids=["starttls", "smtps"],
)
def test_the_documented_smtp_url_with_starttls_or_smtps_and_a_login_still_delivers(
    configure, published_yesterday, smtp_url
):
    """TEALEAVES_ALERT_SMTP_URL as docs/alerts.md has always shown it: the server requires TLS (STARTTLS, or
    TLS from the first byte), verifies nothing less, and accepts only this login; the password is URL-encoded."""
    security = "starttls" if "starttls" in smtp_url else "tls"
    with mail_server(security, login=("alerts", "p@ss:word")) as (inbox, port):
        settings = configure(
            TEALEAVES_ALERT_SMTP_URL=smtp_url.format(port=port),
            TEALEAVES_ALERT_EMAIL_TO=ONCALL,
            TEALEAVES_ALERT_EMAIL_FROM="tealeaves@example.com",
        )
        report = report_gate(settings, "tealeaves_daily", "r1", gate_result("r1", True), now=T0)

    assert [(d.channel, d.ok) for d in report.deliveries] == [("email", True)]
    assert inbox.logins == [("alerts", "p@ss:word")]
    [message] = inbox.messages
    assert (message["From"], message["To"]) == ("tealeaves@example.com", ONCALL)
    assert "found 2 of 240 rows unexpected" in plain(message)


def test_a_failed_delivery_is_one_line_per_channel_and_no_secret_reaches_any_log_or_message(
    configure, published_yesterday, caplog, capfd
):
    """Every channel fails its own way (SMTP refused, a revoked Slack webhook, a Teams workflow that errs, a
    webhook nobody listens on) while every logger records at DEBUG, urllib3's and Apprise's included."""
    dead_smtp, dead_hook = free_port(), free_port()
    password = "XXsecretSmtpPassword42"
    with slack_webhook(status=404, answer=b"no_service") as slack, teams_workflow(status=500) as teams:
        settings = configure(
            smtp_port=dead_smtp,
            slack_url=slack.url,
            TEALEAVES_ALERT_SMTP_URL=f"smtp://alerts:{password}@127.0.0.1:{dead_smtp}?starttls=true",
            TEALEAVES_ALERT_URLS=f"{teams.url}, json://127.0.0.1:{dead_hook}/hooks/{WEBHOOK_TOKEN}",
        )
        with caplog.at_level(logging.DEBUG):
            report = report_gate(settings, "tealeaves_daily", "r1", gate_result("r1", True), now=T0)

    assert [(d.channel, d.ok) for d in report.deliveries] == [
        ("email", False),
        ("slack", False),
        ("teams", False),
        ("webhook", False),
    ]
    assert len(slack.payloads) == 1 and len(teams.payloads) == 1  # they were reached, and said no
    failures = [r for r in caplog.records if r.name.startswith("tealeaves.alerts") and r.levelno >= logging.ERROR]
    assert len(failures) == 4, [r.getMessage() for r in failures]
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in failures), "one line, no traceback"
    assert "404" in failures[1].getMessage() and "500" in failures[2].getMessage()  # the service's answer
    out, err = capfd.readouterr()
    seen = "\n".join([caplog.text, out, err, *(d.error or "" for d in report.deliveries)])
    assert "Traceback" not in seen
    for secret in (password, SLACK_TOKEN, TEAMS_SIGNATURE, TEAMS_WORKFLOW, WEBHOOK_TOKEN):
        assert secret not in seen
    with psycopg.connect(published_yesterday) as conn:
        (sent,) = conn.execute(
            "select last_sent_at from quality.alert_state where alert_key = %s", ["gate:tealeaves_daily"]
        ).fetchone()
    assert sent is None, "reached nobody: not yet told, so the next report tries again"


def test_a_mistyped_apprise_url_is_said_once_without_its_secret_and_the_others_still_deliver(
    configure, slack, published_yesterday, caplog
):
    broken = f"slack://T000/B000/{SLACK_TOKEN}!/#alerts"  # a character Slack tokens never have
    with json_webhook() as hook:
        settings = configure(slack_url=slack.url, TEALEAVES_ALERT_URLS=f"{broken} {hook.url} nosuch://{WEBHOOK_TOKEN}")
        with caplog.at_level(logging.DEBUG):
            report = report_gate(settings, "tealeaves_daily", "r1", gate_result("r1", True), now=T0)

    assert [(d.channel, d.ok) for d in report.deliveries] == [("slack", True), ("webhook", True)]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 2 and "TEALEAVES_ALERT_URLS entry 1" in errors[0] and "entry 3" in errors[1], errors
    assert SLACK_TOKEN not in caplog.text and WEBHOOK_TOKEN not in caplog.text


# --- source freshness ----------------------------------------------------------------------------------


def test_a_stale_source_is_told_once_again_when_it_turns_error_and_when_it_is_fresh(configure, slack):
    settings = configure(slack_url=slack.url)
    last_load = T0 - timedelta(hours=30)
    warn, error = timedelta(hours=26), timedelta(hours=48)

    report_freshness(settings, "crm", "warn", last_load, warn, error, now=T0)
    report_freshness(settings, "crm", "warn", last_load, warn, error, now=T0 + timedelta(hours=6))
    report_freshness(settings, "crm", "error", last_load, warn, error, now=T0 + timedelta(hours=19))
    report_freshness(settings, "crm", "pass", T0 + timedelta(hours=20), warn, error, now=T0 + timedelta(hours=21))

    texts = [slack_text(p) for p in slack.payloads]
    assert len(texts) == 3
    assert "Source crm is stale (warn): last load 2026-01-14 00:30 UTC, 1 d 6 h ago" in texts[0]
    assert "warn after 1 d 2 h, error after 2 d" in texts[0]
    assert "Source crm is stale (error)" in texts[1]
    assert "Source crm is fresh again: last load 2026-01-16 02:30 UTC" in texts[2]


def test_a_freshness_verdict_from_dbt_names_each_stale_table_with_its_numbers(configure, slack):
    from tealeaves.alerts import report_source_freshness
    from tealeaves.quality.freshness import SourceFreshness, TableFreshness

    settings = configure(slack_url=slack.url)
    loaded = T0 - timedelta(hours=50)
    verdict = SourceFreshness(
        "crm",
        (
            TableFreshness("crm", "companies", "error", loaded, 50.0, 26.0, 48.0),
            TableFreshness("crm", "contacts", "pass", T0 - timedelta(hours=2), 2.0, 26.0, 48.0),
        ),
    )

    report = report_source_freshness(settings, verdict, now=T0)

    assert report.sent == "failing"
    text = slack_text(slack.payloads[0])
    assert "Source crm is stale (error): last load 2026-01-13 04:30 UTC, 2 d 2 h ago" in text
    assert "warn after 1 d 2 h, error after 2 d" in text
    assert (
        "crm.companies: error, last load 2026-01-13 04:30 UTC (50 h old); warn after 26.0 h, error after 48.0 h" in text
    )
    assert "crm.contacts" not in text  # fresh tables are not noise in the alert


# --- Airflow --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def airflow_db(server: Settings) -> Settings:
    from tealeaves.orchestrate import migrate_airflow

    migrate_airflow(server)
    return server


@pytest.fixture
def probe_dag(airflow_db):
    """The test DAG, registered in Airflow's database as the DAG processor would do."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = BundleDagBag(dag_folder=str(ALERT_DAGS), bundle_path=ALERT_DAGS, bundle_name="dags-folder")
    assert bag.import_errors == {}
    sync_bag_to_db(bag, "dags-folder", None)
    return bag.dags["alert_probe"]


@pytest.mark.e2e
def test_a_task_failing_in_a_real_dag_run_alerts_once_and_the_next_good_run_recovers(
    configure, smtp_server, slack, probe_dag
):
    inbox, port = smtp_server
    # Slack configured the Airflow way, as an Airflow connection: proves that path too.
    configure(
        smtp_port=port, AIRFLOW_CONN_TEALEAVES_SLACK=json.dumps({"conn_type": "slackwebhook", "password": slack.url})
    )

    failed = probe_dag.test(run_conf={"fail": True})

    assert failed.state == "failed"
    assert len(inbox.to(ONCALL)) == 1 and len(slack.payloads) == 1
    for seen in (inbox.to(ONCALL)[0]["Subject"] + plain(inbox.to(ONCALL)[0]), slack_text(slack.payloads[0])):
        assert "Task alert_probe.load_crm failed (try 1 of 1)" in seen
        assert "crm/companies.csv line 17: column hs_object_id is empty" in seen  # the exception
        assert "/dags/alert_probe/runs/" in seen and "/tasks/load_crm" in seen  # the log link

    already_told = probe_dag.test(run_conf={"reported": True})  # e.g. the gate, which sent its own alert

    assert already_told.state == "failed"
    assert len(inbox.to(ONCALL)) == 1 and len(slack.payloads) == 1

    succeeded = probe_dag.test(run_conf={"fail": False})

    assert succeeded.state == "success"
    assert len(inbox.to(ONCALL)) == 2 and len(slack.payloads) == 2
    assert "alert_probe.load_crm succeeds again" in slack_text(slack.payloads[1])


def test_a_missed_deadline_alerts_through_airflows_own_callback_trigger(configure, slack, airflow_db):
    """The triggerer runs a DeadlineAlert's AsyncCallback through CallbackTrigger; so does this test."""
    from airflow.sdk import DAG
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.triggers.callback import CallbackTrigger

    from tealeaves_airflow.notifiers import late_run_deadline

    configure(slack_url=slack.url)
    assert late_run_deadline(0) is None  # off unless TEALEAVES_ALERT_DEADLINE_HOURS is set
    daily = DAG("tealeaves_daily", schedule="@daily", deadline=late_run_deadline(3))
    stored = DagSerialization.serialize_dag(daily)  # what the scheduler keeps and later calls back
    (alert,) = DagSerialization.deserialize_dag(stored).deadline
    callback = alert["callback"]["__data__"]
    assert alert["callback"]["__classname__"].endswith("AsyncCallback")  # runs in the triggerer
    deadline = datetime(2026, 1, 15, 3, 0, tzinfo=UTC)
    context = {  # what the scheduler puts in the callback's kwargs when the deadline is missed
        "dag_run": {"dag_id": "tealeaves_daily", "dag_run_id": "scheduled__2026-01-15", "state": "running"},
        "deadline": {"id": "0", "deadline_time": deadline},
    }
    trigger = CallbackTrigger(
        callback_path=callback["path"], callback_kwargs={**callback["kwargs"], "context": context}
    )

    async def run() -> list[Any]:
        return [event.payload async for event in trigger.run()]

    # In a thread of its own, as the triggerer runs its event loop: this process may already hold a running loop
    # (Playwright's sync API keeps one for the session's Chromium), where asyncio.run() refuses to start another.
    with ThreadPoolExecutor(max_workers=1) as thread:
        events = thread.submit(asyncio.run, run()).result()

    assert events[-1]["state"] == "success", events
    assert len(slack.payloads) == 1
    assert "tealeaves_daily is late: run not finished by 2026-01-15 03:00 UTC" in slack_text(slack.payloads[0])
