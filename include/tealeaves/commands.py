"""Command-line interface. Every command turns failures into one readable line and a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from tealeaves.config import Settings, describe_settings_error, get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
db_app = typer.Typer(no_args_is_help=True, help="The warehouse's PostgreSQL server.")
app.add_typer(db_app, name="db")
ltv_app = typer.Typer(no_args_is_help=True, help="Predictive lifetime value (BG/NBD + Gamma-Gamma, docs/ltv.md).")
app.add_typer(ltv_app, name="ltv")
console = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _settings() -> Settings:
    try:
        settings = get_settings()
        settings.warehouse  # noqa: B018 - validates TEALEAVES_DATABASE_URL early
        return settings
    except ValidationError as exc:
        raise fail(describe_settings_error(exc), 2) from None
    except ValueError as exc:
        raise fail(str(exc), 2) from None


def _server(settings: Settings):
    from tealeaves.db import EmbeddedPostgres

    return EmbeddedPostgres(settings.pg_data, settings.pg_port, settings.pg_password_file)


# -- db ---------------------------------------------------------------------------------------------
@db_app.command("start")
def db_start() -> None:
    """Start the embedded PostgreSQL (no-op when running) and create the tealeaves databases."""
    from tealeaves.db import ServerError, ensure_databases

    settings = _settings()
    if not settings.embedded:
        console.print("TEALEAVES_DATABASE_URL is set: using that server, not starting an embedded one.")
    else:
        try:
            status = _server(settings).start()
        except ServerError as exc:
            raise fail(str(exc)) from None
        console.print(f"PostgreSQL running on 127.0.0.1:{status.port} (pid {status.pid}), data in {settings.pg_data}")
    try:
        ensure_databases(settings)
    except Exception as exc:  # noqa: BLE001 - any driver error becomes one readable line
        raise fail(f"cannot prepare databases on {settings.warehouse.render_as_string()}: {exc}") from None


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostgreSQL."""
    from tealeaves.db import ServerError

    settings = _settings()
    if not settings.embedded:
        raise fail("TEALEAVES_DATABASE_URL is set: tealeaves does not manage that server.")
    try:
        stopped = _server(settings).stop()
    except ServerError as exc:
        raise fail(str(exc)) from None
    console.print("stopped" if stopped else "not running")


@db_app.command("status")
def db_status() -> None:
    """Say whether the server is running; exit 3 when it is not."""
    settings = _settings()
    if not settings.embedded:
        from tealeaves.db import connect

        try:
            with connect(settings) as conn:
                version = conn.execute("show server_version").fetchone()[0]
        except Exception as exc:  # noqa: BLE001
            raise fail(f"external server {settings.warehouse.render_as_string()} unreachable: {exc}", 3) from None
        console.print(f"external PostgreSQL {version} at {settings.warehouse.render_as_string()}")
        return
    status = _server(settings).status()
    if not status.running:
        console.print("stopped" + ("" if status.initialized else " (not initialised yet)"))
        raise typer.Exit(3)
    console.print(f"running on 127.0.0.1:{status.port} (pid {status.pid}), data in {settings.pg_data}")


@db_app.command("url")
def db_url() -> None:
    """Print the warehouse URL (libpq form: `psql "$(tealeaves db url)"`)."""
    print(_settings().url())


@db_app.command("reader")
def db_reader(
    name: Annotated[str, typer.Argument(help="Login for one BI tool, e.g. metabase.")],
    password: Annotated[str | None, typer.Option(help="Use this password instead of a generated one.")] = None,
) -> None:
    """Create (or reset) a read-only login for a BI tool: `marts` and `quality`, never `raw`. Prints its URL."""
    import psycopg

    from tealeaves.db.roles import RoleError, create_reader_login

    settings = _settings()
    try:
        secret = create_reader_login(settings.url(), name, password)
    except RoleError as exc:
        raise fail(str(exc), 2) from None
    except psycopg.OperationalError as exc:
        raise fail(f"cannot reach the warehouse: {str(exc).strip().splitlines()[0]}", 3) from None
    print(settings.url(settings.warehouse.set(username=name, password=secret)))


# -- data ---------------------------------------------------------------------------------------------
@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Folder to write crm/, billing/ and truth.json into.")],
    customers: Annotated[int, typer.Option(min=1, help="About how many paying customers to create.")] = 1000,
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")] = "2025-01-01",
    months: Annotated[int, typer.Option(min=1, max=240)] = 12,
    seed: Annotated[int, typer.Option()] = 42,
    timezone: Annotated[
        str, typer.Option(help="The merchant's IANA time zone: its days, renewals and export midnight are local.")
    ] = "UTC",
) -> None:
    """Write synthetic source exports with a planted truth."""
    from tealeaves.generate import generate as run
    from tealeaves.generate.calendar import MerchantClock

    try:
        first = date.fromisoformat(start)
    except ValueError:
        raise fail(f"--start must be a date like 2025-01-01, got {start!r}", 2) from None
    try:
        MerchantClock(timezone)
    except ValueError as exc:
        raise fail(f"--timezone: {exc}", 2) from None
    report = run(out, customers=customers, start=first, months=months, seed=seed, timezone=timezone)
    title = (
        f"{report['customers']} customers, {report['leads']} leads, {report['start']} to {report['end']}"
        f" ({timezone}) → {out}"
    )
    table = Table("file", "records", "planted defects", title=title)
    for name, counts in report["files"].items():
        defects = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k != "records" and v)
        table.add_row(name, f"{counts.get('records', 0):,}", defects or "—")
    console.print(table)


@app.command()
def load(
    paths: Annotated[list[Path], typer.Argument(help="Export files, or folders of them.")],
    source: Annotated[str | None, typer.Option(help="Only files of this source (crm, billing, ...).")] = None,
) -> None:
    """Load export files into the raw schema; bad rows go to raw.rejected_rows with a reason."""
    from tealeaves.load import LoadError, load_paths

    settings = _settings()
    try:
        results = load_paths(settings.url(), paths, source)
    except LoadError as exc:
        raise fail(str(exc)) from None
    table = Table("source", "entity", "file", "status", "rows in", "loaded", "rejected")
    for r in results:
        table.add_row(
            r.source, r.entity, r.file.name, r.status, str(r.rows_in), str(r.rows_loaded), str(r.rows_rejected)
        )
    console.print(table)


# -- orchestration -----------------------------------------------------------------------------------
@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def airflow(ctx: typer.Context) -> None:
    """Run the Airflow CLI in tealeaves' environment (`tealeaves airflow up` starts UI and scheduler)."""
    from tealeaves import orchestrate

    settings = _settings()
    if ctx.args == ["up"]:
        orchestrate.prepare(settings)
        raise typer.Exit(orchestrate.serve(settings))
    env = {**os.environ, **orchestrate.environ(settings)}
    raise typer.Exit(subprocess.call([orchestrate.airflow_bin(), *ctx.args], env=env))


@app.command()
def demo(
    customers: Annotated[int, typer.Option(min=1)] = 1000,
    months: Annotated[int, typer.Option(min=1, max=120)] = 12,
) -> None:
    """The whole spine once: start the server, generate exports, run `tealeaves_daily`, print the CAC mart."""
    from tealeaves import orchestrate
    from tealeaves.db import ServerError

    settings = _settings()
    try:
        outcome = orchestrate.demo(settings, console, customers=customers, months=months)
    except (ServerError, orchestrate.RunFailed) as exc:
        raise fail(str(exc)) from None
    from tealeaves.report import gate_verdict, load_summary

    console.print(load_summary(settings))
    report(settings)
    console.print(f"\n[bold]DAG run[/] {outcome.run_id}: [green]{outcome.state}[/]", soft_wrap=True)
    console.print(f"[bold]Quality gate[/]: {gate_verdict(settings, outcome.run_id)}", soft_wrap=True)
    console.print(f"[bold]Data Docs[/]: {settings.docs_dir / 'quality' / 'index.html'}", soft_wrap=True)
    console.print("\n[bold]Next[/]")
    for line in (
        "psql \"$(.venv/bin/tealeaves db url)\" -c 'select * from marts.fct_acquisition_cost'",
        "make airflow             # Airflow UI on http://localhost:8080: trigger and inspect tealeaves_daily",
        ".venv/bin/tealeaves docs # dbt docs and the quality gate's Data Docs on http://127.0.0.1:8081",
        ".venv/bin/tealeaves db stop",
    ):
        console.print("  " + line, soft_wrap=True, highlight=False, markup=False)


def report(settings: Settings | None = None) -> None:
    import psycopg

    from tealeaves.report import (
        acquisition_cost_table,
        headline_table,
        ltv_cac_by_channel_table,
        predicted_ltv_cac_by_channel_table,
    )

    settings = settings or _settings()
    try:
        console.print(headline_table(settings))
        console.print(ltv_cac_by_channel_table(settings))
        console.print(predicted_ltv_cac_by_channel_table(settings))
        console.print(acquisition_cost_table(settings))
    except psycopg.errors.UndefinedTable as exc:
        raise fail(f"{str(exc).splitlines()[0]}: the marts are not built yet; run `make demo` first") from None
    except psycopg.OperationalError as exc:
        raise fail(f"cannot reach the warehouse: {str(exc).strip().splitlines()[0]}", 3) from None
    except LookupError as exc:
        raise fail(str(exc)) from None


app.command(
    "report", help="Print the headline metrics of the latest month, LTV:CAC (formula, predicted) by channel and CAC."
)(lambda: report())


@app.command()
def docs(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port on 127.0.0.1 to serve the docs on.")] = 8081,
    serve: Annotated[bool, typer.Option(help="Serve after building; --no-serve only builds.")] = True,
) -> None:
    """Build dbt docs next to the quality gate's Data Docs and serve both on localhost."""
    from tealeaves.docs import build_docs, serve_docs
    from tealeaves.orchestrate import RunFailed

    settings = _settings()
    try:
        index = build_docs(settings)
    except RunFailed as exc:
        raise fail(str(exc)) from None
    console.print(f"docs built: {index}", soft_wrap=True, highlight=False)
    if serve:
        console.print(f"serving on http://127.0.0.1:{port}/ (Ctrl-C stops)", highlight=False)
        try:
            serve_docs(settings, port)
        except OSError as exc:
            raise fail(f"cannot serve on port {port}: {exc.strerror}; pick another with --port", 2) from None
        except KeyboardInterrupt:
            pass


# -- ltv ---------------------------------------------------------------------------------------------
@ltv_app.command("backtest")
def ltv_backtest(
    calibration_end: Annotated[str, typer.Option(help="Last day the model may see, YYYY-MM-DD (inclusive).")],
    holdout_end: Annotated[str, typer.Option(help="Last day of the holdout it must predict, YYYY-MM-DD.")],
    fit_id: Annotated[
        str | None, typer.Option(help="Id of the stored result (default backtest__<calibration end>__<holdout end>).")
    ] = None,
) -> None:
    """Fit BG/NBD on one-off purchases to the calibration end, predict the holdout, compare and store the result.

    Reads intermediate.int_purchases_netted (build it with dbt first); writes ltv.model_fits (the fit and its
    holdout error) and ltv.backtest_customers (predicted and actual purchases per customer).
    """
    import psycopg

    from tealeaves.ltv import LtvInputError
    from tealeaves.ltv.store import run_backtest

    try:
        start, end = date.fromisoformat(calibration_end), date.fromisoformat(holdout_end)
    except ValueError as exc:
        raise fail(f"dates must be YYYY-MM-DD: {exc}", 2) from None
    settings = _settings()
    run_id = f"cli__{datetime.now(UTC):%Y-%m-%dT%H:%M:%S}"
    try:
        record = run_backtest(settings.url(), run_id, start, end, fit_id)
    except LtvInputError as exc:
        raise fail(str(exc), 2) from None
    except psycopg.errors.UndefinedTable as exc:
        raise fail(
            f"{str(exc).splitlines()[0]}: build the dbt models first (dbt build --select +int_purchases_netted)"
        ) from None
    except psycopg.OperationalError as exc:
        raise fail(f"cannot reach the warehouse: {str(exc).strip().splitlines()[0]}", 3) from None
    if not record.converged:
        raise fail(f"backtest {record.fit_id} stored as a failed fit in ltv.model_fits: {record.message}")
    from tealeaves.report import backtest_tables

    for table in backtest_tables(record):
        console.print(table)
    console.print(f"stored as {record.fit_id} in ltv.model_fits and ltv.backtest_customers", highlight=False)


def main() -> None:  # pragma: no cover
    sys.exit(app())
