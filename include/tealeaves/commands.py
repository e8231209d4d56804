"""Command-line interface. Every command turns failures into one readable line and a non-zero exit."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from tealeaves.config import Settings, describe_settings_error, get_settings

# Tracebacks are for developers (TEALEAVES_DEBUG=1); main() turns anything unforeseen into one line.
app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__, pretty_exceptions_enable=False)
db_app = typer.Typer(no_args_is_help=True, help="The warehouse's PostgreSQL server.")
app.add_typer(db_app, name="db")
ltv_app = typer.Typer(no_args_is_help=True, help="Predictive lifetime value (BG/NBD + Gamma-Gamma, docs/ltv.md).")
app.add_typer(ltv_app, name="ltv")
sample_app = typer.Typer(no_args_is_help=True, help="Published data sets written as exports, to load like your own.")
app.add_typer(sample_app, name="sample")
metrics_app = typer.Typer(
    no_args_is_help=True, help="The semantic layer: headline metrics over the published marts (docs/metrics.md)."
)
app.add_typer(metrics_app, name="metrics")
bi_app = typer.Typer(no_args_is_help=True, help="Apache Superset on 127.0.0.1 with the dashboards of bi/superset/.")
app.add_typer(bi_app, name="bi")
console = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def unreachable(exc: Exception) -> typer.Exit:
    """The warehouse's server is down or refuses us: its first line of reason, exit code 3."""
    return fail(f"cannot reach the warehouse: {str(exc).strip().splitlines()[0]}", 3)


def _settings() -> Settings:
    """The settings, checked; the home made private (or taken back from others, for one made before that rule)."""
    from tealeaves.state import private_home

    try:
        settings = get_settings()
        settings.warehouse  # noqa: B018 - validates TEALEAVES_DATABASE_URL early
        private_home(settings.home)
        return settings
    except ValidationError as exc:
        raise fail(describe_settings_error(exc), 2) from None
    except ValueError as exc:
        raise fail(str(exc), 2) from None


def _plain_settings() -> Settings:
    """The settings for commands that need no server (`generate`, `sample`): nothing is made or checked."""
    try:
        return get_settings()
    except ValidationError as exc:
        raise fail(describe_settings_error(exc), 2) from None


@contextmanager
def _writing_into(out: Path) -> Iterator[None]:
    """Files a command writes into the home are private like all else there; elsewhere the user's umask holds."""
    from tealeaves.state import inside, private_files

    if inside(_plain_settings().home, out):
        with private_files():
            yield
    else:
        yield


def _server(settings: Settings):
    from tealeaves.db import EmbeddedPostgres

    return EmbeddedPostgres(settings.pg_data, settings.pg_port, settings.pg_password_file)


# -- db ---------------------------------------------------------------------------------------------
@db_app.command("start")
def db_start() -> None:
    """Start the embedded PostgreSQL (no-op when running), create the tealeaves databases, upgrade the warehouse."""
    from tealeaves.db import ServerError, ensure_databases
    from tealeaves.db.migrate import upgrade

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
    try:
        before, after = upgrade(settings.url())
    except Exception as exc:  # noqa: BLE001 - any driver or revision error becomes one readable line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise fail(f"cannot upgrade the warehouse's tables (docs/database.md): {first}") from None
    if before != after:
        console.print(f"warehouse tables upgraded from revision {before or 'none'} to {after}", highlight=False)


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
    """Print the warehouse URL, password included, for programs that read one from a file or their environment.

    Not for psql's command line, where anyone on the machine reads it in `ps`: use `tealeaves db service`.
    """
    print(_settings().url())


@db_app.command("service")
def db_service() -> None:
    """Write libpq's service and password files (0600) and print the service file's path.

    `PGSERVICEFILE="$(tealeaves db service)" psql service=tealeaves` then connects with no password in argv or in
    the environment (docs/security.md, "Connecting with psql").
    """
    from tealeaves.db.service import OWN_SERVICE, ServiceFileError, write_service

    settings = _settings()
    try:
        path = write_service(settings.libpq_dir, OWN_SERVICE, settings.warehouse)
    except ServiceFileError as exc:
        raise fail(str(exc), 2) from None
    _show_service(path, OWN_SERVICE)


def _show_service(path: Path, service: str) -> None:
    """The path for `$(...)`; to a person at a terminal, also the line to connect with."""
    print(path)
    if sys.stdout.isatty():
        err.print(f"connect with: PGSERVICEFILE={shlex.quote(str(path))} psql service={service}", highlight=False)


@db_app.command("password")
def db_password() -> None:
    """Give the embedded server's superuser a new password (kept 0600 in the home; printed nowhere).

    Everything tealeaves starts afterwards uses it; restart a running `tealeaves airflow up`, whose processes
    hold the old one.
    """
    import psycopg

    from tealeaves.db.setup import rotate_superuser_password

    settings = _settings()
    try:
        rotate_superuser_password(settings)
    except ValueError as exc:
        raise fail(str(exc), 2) from None
    except psycopg.OperationalError as exc:
        raise unreachable(exc) from None
    console.print(f"new superuser password in {settings.pg_password_file} (mode 0600)", highlight=False)


@db_app.command("reset")
def db_reset(
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: every loaded batch and built table is dropped.")] = False,
) -> None:
    """Empty the warehouse (raw, staging, intermediate, marts, quality, ltv) to load another export folder."""
    import psycopg

    from tealeaves.db.setup import reset_warehouse

    if not yes:
        raise fail("this drops every loaded export and built mart; run again with --yes to confirm", 2)
    settings = _settings()
    try:
        dropped = reset_warehouse(settings.url())
    except psycopg.OperationalError as exc:
        raise unreachable(exc) from None
    console.print(f"dropped schemas: {', '.join(dropped) or 'none'}", highlight=False)


@db_app.command("reader")
def db_reader(
    name: Annotated[str, typer.Argument(help="Login for one BI tool, e.g. metabase.")],
    password: Annotated[str | None, typer.Option(help="Use this password instead of a generated one.")] = None,
    service: Annotated[
        bool,
        typer.Option(
            "--service",
            help="Instead of printing the URL, keep the login in libpq's service file as service tealeaves-NAME.",
        ),
    ] = False,
) -> None:
    """Create a read-only login for a BI tool, or give one it made a new password. Prints its URL.

    The login reads `marts` and `quality`, never `raw`, with time, temp-space and connection limits. Any
    role this command did not make (the superuser, your own user, a DBA's roles) is refused and left as is.
    With --service the password goes only into a 0600 file and the command prints the service file's path.
    """
    import psycopg

    from tealeaves.db.roles import RoleError, check_login_name, create_reader_login, new_password
    from tealeaves.db.service import ServiceFileError, reader_service, render_service, write_service

    settings = _settings()
    login = settings.warehouse.set(username=name, password=password or new_password())
    try:
        check_login_name(name)
        if service:  # a password the files cannot hold is refused before the login changes
            render_service(settings.libpq_dir, reader_service(name), login)
        create_reader_login(settings.url(), name, login.password)
    except (RoleError, ServiceFileError) as exc:
        raise fail(str(exc), 2) from None
    except psycopg.OperationalError as exc:
        raise unreachable(exc) from None
    except psycopg.Error as exc:  # the statements carry no secret, but the message is what the user can act on
        raise fail(f"could not set up reader {name!r}: {exc.diag.message_primary or type(exc).__name__}", 1) from None
    if not service:
        print(settings.url(login))
        return
    _show_service(write_service(settings.libpq_dir, reader_service(name), login), reader_service(name))


# -- data ---------------------------------------------------------------------------------------------
@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Folder to write crm/, billing/ and truth.json into.")],
    customers: Annotated[int, typer.Option(min=1, help="About how many paying customers to create.")] = 1000,
    start: Annotated[str, typer.Option(help="First day, YYYY-MM-DD.")] = "2025-01-01",
    months: Annotated[
        int | None, typer.Option(min=1, max=240, help="Months of data from the start's month on. Default: 12.")
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            help="The day the data stops (not included), YYYY-MM-DD, any day of a month; instead of --months."
        ),
    ] = None,
    seed: Annotated[int, typer.Option()] = 42,
    timezone: Annotated[
        str, typer.Option(help="The merchant's IANA time zone: its days, renewals and export midnight are local.")
    ] = "UTC",
    events_days: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Write only the subscription events of the last N days, as a backfill through Stripe's Events API"
            " sees them (it keeps 30 days). Default: every event.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Processes that share the sources out; the files are the same for any number."
            " Default: up to 2, one per CPU.",
        ),
    ] = None,
) -> None:
    """Write synthetic source exports with a planted truth."""
    from tealeaves.generate import generate as run
    from tealeaves.generate.calendar import MerchantClock, add_months

    try:
        first = date.fromisoformat(start)
    except ValueError:
        raise fail(f"--start must be a date like 2025-01-01, got {start!r}", 2) from None
    last = None
    if end is not None:
        if months is not None:
            raise fail("--end and --months both say where the data stops: give one", 2)
        try:
            last = date.fromisoformat(end)
        except ValueError:
            raise fail(f"--end must be a date like 2025-03-16, got {end!r}", 2) from None
        if not first < last <= add_months(first, 240):
            raise fail(f"--end ({last}) must come after --start ({first}), and within 240 months of it", 2)
    try:
        MerchantClock(timezone)
    except ValueError as exc:
        raise fail(f"--timezone: {exc}", 2) from None
    with _writing_into(out):
        report = run(
            out,
            customers=customers,
            start=first,
            months=months or 12,
            end=last,
            seed=seed,
            timezone=timezone,
            events_days=events_days,
            workers=workers or min(2, os.cpu_count() or 1),
            keep_report=False,
        )
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
    """Load export files into the raw schema; bad rows go to raw.rejected_rows with a reason.

    A folder may hold the files themselves or one folder per source (`billing/`, `crm/`, ...). A file that
    cannot be loaded at all is listed as failed with its reason; the others still load, and the exit code is 1.
    """
    import psycopg

    from tealeaves.load import LoadError, load_paths

    settings = _settings()
    try:
        results = load_paths(settings.url(), paths, source, strict=False)
    except LoadError as exc:
        raise fail(str(exc)) from None
    except psycopg.OperationalError as exc:
        raise unreachable(exc) from None
    table = Table("source", "entity", "file", "status", "rows in", "loaded", "rejected")
    for r in results:
        table.add_row(
            r.source, r.entity, r.file.name, r.status, str(r.rows_in), str(r.rows_loaded), str(r.rows_rejected)
        )
    console.print(table)
    failed = [r for r in results if r.status == "failed"]
    for r in failed:
        err.print(f"[bold red]failed:[/] {r.error}", highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(1)


@sample_app.command("cdnow")
def sample_cdnow(
    out: Annotated[Path, typer.Option(help="Folder to write billing/ into (new, empty, or an earlier sample's).")],
    through: Annotated[
        str, typer.Option(help="Last purchase day to include, YYYY-MM-DD, or 'all' for the data to 1998-06-30.")
    ] = "1997-09-30",
) -> None:
    """Write the CDNOW sample (2,357 customers' CD purchases, 1997-98) as Stripe-shaped one-off billing exports.

    Load it with `tealeaves load DIR`. The default keeps the published calibration period only (to 1997-09-30).
    """
    from tealeaves.samples.cdnow import SampleFolderError, write_billing_exports

    try:
        last = None if through == "all" else date.fromisoformat(through)
    except ValueError:
        raise fail(f"--through must be a date like 1997-09-30 or 'all', got {through!r}", 2) from None
    try:
        with _writing_into(out):
            written = write_billing_exports(out, last)
    except SampleFolderError as exc:
        raise fail(str(exc), 2) from None
    period = f"purchases through {written.through}" if written.through else "every purchase"
    print(f"{written.folder}: {written.customers} customers, {written.invoices} invoices (CDNOW, {period})")


# -- orchestration -----------------------------------------------------------------------------------
@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def airflow(ctx: typer.Context) -> None:
    """Run the Airflow CLI in tealeaves' environment (`tealeaves airflow up` starts UI and scheduler).

    `tealeaves airflow password` gives the UI's admin a new password; the old one stops working at once.
    """
    from tealeaves import orchestrate
    from tealeaves.airflow_login import ensure_admin_password, login_notice, new_admin_password
    from tealeaves.state import UMASK

    settings = _settings()
    if ctx.args == ["up"]:
        orchestrate.prepare(settings)
        raise typer.Exit(orchestrate.serve(settings))
    if ctx.args == ["password"]:
        password = new_admin_password(settings)
        print(login_notice(settings, password))
        return
    # Made here before Airflow's API server would make one itself and print it into its log.
    if (password := ensure_admin_password(settings)) is not None:
        print(login_notice(settings, password))
    env = {**os.environ, **orchestrate.environ(settings)}
    raise typer.Exit(subprocess.call([orchestrate.airflow_bin(), *ctx.args], env=env, umask=UMASK))


# -- bi ---------------------------------------------------------------------------------------------
@bi_app.command("up")
def bi_up() -> None:
    """Start Superset in the background on 127.0.0.1:TEALEAVES_BI_PORT (8088) with the repo's dashboards.

    Its metadata goes to a database `superset` on the warehouse's server; it reads the warehouse as the reader
    login `superset` (marts and quality only). The admin's password is shown on the first start only.
    """
    from tealeaves.bi.server import BiError, up
    from tealeaves.db import ServerError

    settings = _settings()
    try:
        started = up(settings, lambda line: console.print(f"[dim]{line}[/]", highlight=False))
    except (BiError, ServerError) as exc:
        raise fail(str(exc)) from None
    if started.already_running:
        console.print(f"Superset already running on {started.url} (pid {started.pid})", highlight=False)
        return
    console.print(
        f"Superset on {started.url} (pid {started.pid}), ready in {started.seconds:.0f} s;"
        f" log in {settings.home / 'logs' / 'superset.log'}. `tealeaves bi down` stops it.",
        highlight=False,
        soft_wrap=True,
    )
    if started.new_admin_password is not None:
        from tealeaves.bi.server import login_notice

        print(login_notice(settings, started.new_admin_password), flush=True)


@bi_app.command("password")
def bi_password() -> None:
    """Give Superset's admin a new password, shown once; the old one stops working at the next login."""
    from tealeaves.bi.server import BiError, login_notice, new_admin_password

    settings = _settings()
    try:
        password = new_admin_password(settings)
    except BiError as exc:
        raise fail(str(exc)) from None
    print(login_notice(settings, password), flush=True)


@bi_app.command("rotate-secret")
def bi_rotate_secret() -> None:
    """Give Superset a new secret key and re-encrypt what it stored with the old one; restarts it if running."""
    from tealeaves.bi.server import BiError, rotate_secret_key
    from tealeaves.db import ServerError

    settings = _settings()
    try:
        restarted = rotate_secret_key(settings, lambda line: console.print(f"[dim]{line}[/]", highlight=False))
    except (BiError, ServerError) as exc:
        raise fail(str(exc)) from None
    where = settings.home / "superset" / "secret-key"
    note = "; Superset restarted, everyone logs in again" if restarted else ""
    console.print(f"new secret key in {where} (mode 0600){note}", highlight=False, soft_wrap=True)


@bi_app.command("down")
def bi_down() -> None:
    """Stop Superset."""
    from tealeaves.bi.server import down

    console.print("stopped" if down(_plain_settings()) else "not running")


@bi_app.command("status")
def bi_status() -> None:
    """Say whether Superset is running and answering; exit 3 when it is not."""
    from tealeaves.bi.server import status, url

    settings = _plain_settings()
    current = status(settings)
    if not current.running:
        console.print("stopped")
        raise typer.Exit(3)
    state = "answering" if current.answering else "not answering yet"
    console.print(f"running on {url(settings)} (pid {current.pid}), {state}", highlight=False)
    if not current.answering:
        raise typer.Exit(3)


@app.command()
def demo(
    customers: Annotated[int, typer.Option(min=1)] = 1000,
    months: Annotated[int, typer.Option(min=1, max=120)] = 12,
) -> None:
    """The whole spine once on a generated sample company (its own folder, never your exports)."""
    from tealeaves import orchestrate
    from tealeaves.db import ServerError

    settings = _settings()
    try:
        outcome = orchestrate.demo(settings, console, customers=customers, months=months)
    except (ServerError, orchestrate.RunFailed) as exc:
        raise fail(str(exc)) from None
    _summarise(settings, outcome)


@app.command()
def run(
    data: Annotated[
        Path | None,
        typer.Option(help="Folder of your exports: billing/, crm/, support/, survey/ (default: TEALEAVES_DATA)."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Reporting date YYYY-MM-DD: the marts' last day and the LTV calibration end.")
    ] = None,
) -> None:
    """Run the daily pipeline once on your own exports: load, check, build, predict, audit, publish.

    Prepares what it needs (the server, dbt's manifest, Airflow's metadata), never generates data, and prints
    what was loaded, the gate's verdict and the headline report. A failed run exits 1 naming the failed task,
    why, and the full log.
    """
    from tealeaves import orchestrate
    from tealeaves.db import ServerError

    settings = _settings()
    try:
        reporting_date = date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise fail(f"--as-of must be a date like 2025-06-30, got {as_of!r}", 2) from None
    try:
        outcome = orchestrate.run(settings, console, data or settings.data_dir, reporting_date)
    except (ServerError, orchestrate.RunFailed) as exc:
        raise fail(str(exc)) from None
    _summarise(settings, outcome)


def _summarise(settings: Settings, outcome) -> None:
    """What `demo` and `run` print after a good run: loads, the report, the gate's verdict, where to look next."""
    from tealeaves.airflow_env import api_url
    from tealeaves.report import coverage_table, gate_verdict, load_summary

    console.print(load_summary(settings))
    console.print(coverage_table(settings))
    report(settings, partial_ok=True)
    console.print(f"\n[bold]DAG run[/] {outcome.run_id}: [green]{outcome.state}[/]", soft_wrap=True)
    console.print(f"[bold]Quality gate[/]: {gate_verdict(settings, outcome.run_id)}", soft_wrap=True)
    console.print(f"[bold]Data Docs[/]: {settings.docs_dir / 'quality' / 'index.html'}", soft_wrap=True)
    console.print("\n[bold]Next[/]")
    for line in (
        'PGSERVICEFILE="$(.venv/bin/tealeaves db service)" psql service=tealeaves'
        " -c 'select * from marts.fct_acquisition_cost'",
        f"make airflow             # Airflow UI on {api_url(settings)}: trigger and inspect tealeaves_daily",
        ".venv/bin/tealeaves docs # dbt docs and the quality gate's Data Docs on http://127.0.0.1:8081",
        ".venv/bin/tealeaves db stop",
    ):
        console.print("  " + line, soft_wrap=True, highlight=False, markup=False)


def report(settings: Settings | None = None, partial_ok: bool = False) -> None:
    """The terminal report. With `partial_ok` (after a run), a table whose marts are empty for this company (no
    subscriptions, no CRM) is replaced by one line saying so instead of failing the command."""
    import psycopg

    from tealeaves.report import (
        acquisition_cost_table,
        headline_table,
        ltv_cac_by_channel_table,
        predicted_ltv_cac_by_channel_table,
    )

    settings = settings or _settings()
    for table in (headline_table, ltv_cac_by_channel_table, predicted_ltv_cac_by_channel_table, acquisition_cost_table):
        try:
            console.print(table(settings))
        except psycopg.errors.UndefinedTable as exc:
            raise fail(f"{str(exc).splitlines()[0]}: the marts are not built yet; run `make demo` first") from None
        except psycopg.OperationalError as exc:
            raise unreachable(exc) from None
        except LookupError as exc:
            if not partial_ok:
                raise fail(str(exc)) from None
            console.print(f"[dim]{table.__name__.removesuffix('_table').replace('_', ' ')}: {exc}[/]", soft_wrap=True)


@app.command("report")
def report_command(
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            metavar="PATH",
            help="Write the headline metrics and their charts to one self-contained HTML file (nothing in it is"
            " fetched from the network: for email) instead of printing the tables.",
        ),
    ] = None,
) -> None:
    """Print the headline metrics of the latest month, LTV:CAC (formula, predicted) by channel and CAC."""
    if html is None:
        report()
    else:
        report_html(html)


def report_html(path: Path) -> None:
    """`report --html PATH`: the same figures as the terminal report, with charts, in one file written whole."""
    import psycopg

    from tealeaves.report_html import CannotWrite, NothingPublished, write_report

    settings = _settings()
    try:
        page = write_report(settings, path)
    except CannotWrite as exc:
        raise fail(f"cannot write the report to {path}: {exc.strerror}") from None
    except NothingPublished as exc:
        raise fail(str(exc)) from None
    except psycopg.OperationalError as exc:
        raise unreachable(exc) from None
    charts = sum(1 for section in page.sections if section.spec)
    notes = len(page.sections) - charts
    console.print(
        f"wrote {path} ({path.stat().st_size / 1024:,.0f} KiB): {charts} chart(s)"
        + (f", {notes} without data (a note says why)" if notes else ""),
        soft_wrap=True,
        highlight=False,
    )


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
            f"{str(exc).splitlines()[0]}: build the dbt models first"
            " (tealeaves-dbt build --select +int_purchases_netted)"
        ) from None
    except psycopg.OperationalError as exc:
        raise unreachable(exc) from None
    if not record.converged:
        raise fail(f"backtest {record.fit_id} stored as a failed fit in ltv.model_fits: {record.message}")
    from tealeaves.report import backtest_tables

    for table in backtest_tables(record):
        console.print(table)
    console.print(f"stored as {record.fit_id} in ltv.model_fits and ltv.backtest_customers", highlight=False)


# -- metrics ---------------------------------------------------------------------------------------------
@contextmanager
def _semantic_layer(settings: Settings):
    """MetricFlow's engine over the published marts, closed after use. A project that does not parse, a question
    the layer refuses and a server that does not answer are each one line, not a traceback."""
    import psycopg

    from tealeaves.orchestrate import RunFailed
    from tealeaves.semantic import SemanticLayer, SemanticLayerError

    try:
        layer = SemanticLayer.for_settings(settings)
    except RunFailed as exc:
        raise fail(str(exc).splitlines()[0]) from None
    except SemanticLayerError as exc:
        raise fail(str(exc)) from None
    try:
        yield layer
    except SemanticLayerError as exc:
        raise fail(str(exc)) from None
    except psycopg.OperationalError as exc:
        raise unreachable(exc) from None
    finally:
        layer.close()


@metrics_app.command("list")
def metrics_list() -> None:
    """Every metric of the semantic layer: name, type, what it means and the dimensions it can be grouped by."""
    from rich.text import Text

    with _semantic_layer(_settings()) as layer:
        metrics = layer.metrics()
    table = Table(title="Metrics (tealeaves metrics query --metrics NAME --group-by DIMENSION,...)")
    table.add_column("metric", no_wrap=True, style="bold")
    table.add_column("type")
    table.add_column("description", ratio=2)
    table.add_column("dimensions", overflow="fold", ratio=1)
    for m in metrics:
        about = Text(m.label, style="bold")
        if m.description:
            about.append("\n" + m.description, style="")
        table.add_row(m.name, m.type, about, "\n".join(m.dimensions))
    console.print(table)


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


@metrics_app.command("query")
def metrics_query(
    metrics: Annotated[list[str], typer.Option("--metrics", help="Metric names, comma-separated or repeated.")],
    group_by: Annotated[
        list[str] | None,
        typer.Option(
            "--group-by",
            help="Dimensions, comma-separated: metric_time__month, channel, segment, ... (a dimension may be named"
            " without its entity when only one has it).",
        ),
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(
            help="MetricFlow filter, e.g. \"{{ Dimension('acquisition_month_channel__channel') }} = 'OFFLINE'\"."
        ),
    ] = None,
    start: Annotated[str | None, typer.Option(help="First metric_time day, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option(help="Last metric_time day, YYYY-MM-DD.")] = None,
    order: Annotated[list[str] | None, typer.Option(help="Order by these names; -name for descending.")] = None,
    limit: Annotated[int | None, typer.Option(min=1)] = None,
    csv: Annotated[bool, typer.Option("--csv", help="Write CSV to standard output instead of a table.")] = False,
    explain: Annotated[bool, typer.Option("--explain", help="Also print the SQL MetricFlow ran.")] = False,
) -> None:
    """Ask the semantic layer: metrics by dimensions, computed by MetricFlow from the published marts."""
    try:
        first, last = (date.fromisoformat(d) if d else None for d in (start, end))
    except ValueError as exc:
        raise fail(f"--start and --end must be dates like 2025-06-30: {exc}", 2) from None
    with _semantic_layer(_settings()) as layer:
        answer = layer.query(_split(metrics), _split(group_by), where or [], first, last, _split(order), limit)
    if csv:
        import csv as csv_module

        writer = csv_module.writer(sys.stdout, lineterminator="\n")
        writer.writerow(answer.columns)
        writer.writerows([_csv_cell(c) for c in row] for row in answer.rows)
        return
    table = Table(*answer.columns, title=f"{', '.join(_split(metrics))} (from schema marts)")
    for row in answer.rows:
        table.add_row(*(_shown_cell(c) for c in row))
    console.print(table)
    if explain:
        console.print(answer.sql, markup=False, highlight=False, soft_wrap=True)


def _csv_cell(cell: object) -> object:
    if isinstance(cell, datetime):
        return (
            cell.date().isoformat() if cell == datetime.combine(cell.date(), datetime.min.time()) else cell.isoformat()
        )
    return "" if cell is None else cell


def _shown_cell(cell: object) -> str:
    if cell is None:
        return "—"
    if isinstance(cell, float):
        return f"{cell:,.4f}"
    return str(_csv_cell(cell))


@metrics_app.command("validate")
def metrics_validate(
    warehouse: Annotated[
        bool, typer.Option(help="Also query every dimension, measure and metric in the published marts.")
    ] = True,
) -> None:
    """Check the semantic layer's definitions with MetricFlow (and against the warehouse); exit 1 on an error."""
    from tealeaves.semantic import validate_semantics

    with _semantic_layer(_settings()) as layer:
        issues = validate_semantics(layer.manifest)
        if warehouse and not any(i.level == "ERROR" for i in issues):
            issues += layer.validate_warehouse()
        metric_count = len(layer.metric_names())
    for issue in issues:
        err.print(f"{issue.level.lower()}: {issue.text}", highlight=False, markup=False, soft_wrap=True)
    errors = sum(i.level == "ERROR" for i in issues)
    checked = "definitions and warehouse" if warehouse else "definitions"
    console.print(f"{metric_count} metrics, {checked} checked: {errors} errors", highlight=False)
    if errors:
        raise typer.Exit(1)


def main() -> None:
    """The console entry point: every failure a command did not foresee still ends as one line."""
    if os.environ.get("TEALEAVES_DEBUG"):
        sys.exit(app())
    try:
        sys.exit(app())
    except KeyboardInterrupt:
        err.print("interrupted", highlight=False)
        sys.exit(130)
    except OSError as exc:  # a folder that cannot be made, a disk that is full, a file that went away
        where = f"{exc.filename}: " if exc.filename else ""
        err.print(f"[bold red]error:[/] {where}{exc.strerror or exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - the last line of defence, named as such
        import psycopg

        if isinstance(exc, psycopg.OperationalError):
            unreachable(exc)
            sys.exit(3)
        first = (str(exc).strip().splitlines() or [""])[0]
        err.print(
            f"[bold red]error:[/] unexpected {type(exc).__name__}: {first}"
            " (a bug in tealeaves: run again with TEALEAVES_DEBUG=1 for the traceback and report it)",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
