"""`tealeaves db reader` hands out BI logins and nothing else: it never takes over a role it did not make,
its passwords never reach the server's log, and its logins are bounded and kept out of Airflow's database."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from tealeaves.db import EmbeddedPostgres
from tests.cli import psql, tealeaves


def unique(prefix: str) -> str:
    """Roles are shared by every database on the session's server: each test names its own."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def env(cli_env: dict[str, str], fresh_database: str) -> dict[str, str]:
    return {**cli_env, "TEALEAVES_DATABASE_URL": fresh_database}


def make_reader(env: dict[str, str], name: str, *options: str) -> str:
    result = tealeaves(env, "db", "reader", name, *options)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def refused(env: dict[str, str], name: str) -> None:
    result = tealeaves(env, "db", "reader", name)
    assert result.returncode != 0
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def role(url: str, name: str) -> tuple | None:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select rolsuper, rolcanlogin, rolpassword, shobj_description(oid, 'pg_authid')"
            " from pg_authid where rolname = %s",
            [name],
        ).fetchone()


@pytest.mark.parametrize("name", ["postgres", "pg_read_server_files", "pg_anything_new", "bi_reader"])
def test_the_superuser_reserved_names_and_the_group_are_refused(env, fresh_database, name):
    make_reader(env, unique("metabase"))  # bi_reader exists: refusing it is a rule, not an accident
    before = role(fresh_database, name)
    refused(env, name)
    assert role(fresh_database, name) == before
    with psycopg.connect(fresh_database) as conn:  # the superuser still logs in with its own password
        assert conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone() == (True,)


def test_an_existing_role_that_is_not_a_reader_is_left_as_is(env, fresh_database):
    etl = unique("etl")
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(sql.SQL("create role {} login password 'etl-secret'").format(sql.Identifier(etl)))
    before = role(fresh_database, etl)
    refused(env, etl)
    assert role(fresh_database, etl) == before
    etl_url = psycopg.conninfo.make_conninfo(fresh_database, user=etl, password="etl-secret")
    with psycopg.connect(etl_url) as conn:
        assert conn.execute("select pg_has_role(current_user, 'bi_reader', 'member')").fetchone() == (False,)


def test_a_role_marked_by_hand_but_able_to_create_roles_is_refused(env, fresh_database):
    """A role someone commented by hand is still not a reader unless it is a plain login in bi_reader."""
    make_reader(env, unique("metabase"))
    admin = unique("admin")
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(sql.SQL("create role {} login createrole in role bi_reader").format(sql.Identifier(admin)))
        conn.execute(sql.SQL("comment on role {} is 'tealeaves reader login'").format(sql.Identifier(admin)))
    before = role(fresh_database, admin)
    refused(env, admin)
    assert role(fresh_database, admin) == before


def test_running_it_again_rotates_the_readers_password(env, fresh_database):
    name = unique("metabase")
    first = make_reader(env, name)
    second = make_reader(env, name)
    assert first != second
    with psycopg.connect(second) as conn:
        assert conn.execute("select current_user").fetchone() == (name,)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(first).close()


def test_a_reader_is_bounded_in_time_temp_space_and_connections(env, fresh_database):
    name = unique("superset")
    url = make_reader(env, name)
    with psycopg.connect(url) as conn:
        settings = dict(
            conn.execute(
                "select name, setting from pg_settings where name in"
                " ('statement_timeout', 'idle_in_transaction_session_timeout', 'temp_file_limit')"
            ).fetchall()
        )
        limit, superuser = conn.execute(
            "select rolconnlimit, rolsuper from pg_roles where rolname = current_user"
        ).fetchone()
    assert all(int(value) > 0 for value in settings.values()) and len(settings) == 3, settings  # 0 / -1: none
    assert 0 < limit <= 50 and not superuser


def test_a_reader_cannot_connect_to_airflows_database(env, fresh_database, settings):
    url = make_reader(env, unique("tableau"))
    psycopg.connect(url).close()  # the warehouse: yes
    airflow = psycopg.conninfo.make_conninfo(url, dbname=settings.airflow_metadata.database)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(airflow).close()
    name = psycopg.conninfo.conninfo_to_dict(url)["user"]
    with psycopg.connect(fresh_database) as conn:
        allowed = conn.execute("select has_database_privilege(%s, %s, 'CONNECT')", [name, "airflow"]).fetchone()
    assert allowed == (False,)


def test_a_reader_cannot_connect_to_the_maintenance_databases(env, fresh_database):
    """PUBLIC's CONNECT on `postgres` and `template1` is revoked on the embedded server, which tealeaves owns."""
    url = make_reader(env, unique("looker"))
    name = psycopg.conninfo.conninfo_to_dict(url)["user"]
    for database in ("postgres", "template1"):
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(psycopg.conninfo.make_conninfo(url, dbname=database)).close()
        with psycopg.connect(psycopg.conninfo.make_conninfo(fresh_database, dbname=database)) as conn:
            allowed = conn.execute("select has_database_privilege(%s, %s, 'CONNECT')", [name, database]).fetchone()
        assert allowed == (False,)  # refused for want of CONNECT, while the superuser still connects there


def test_on_a_server_tealeaves_does_not_own_the_other_databases_are_the_dbas(env, fresh_database):
    """With TEALEAVES_DATABASE_URL, `db start` changes nothing on `template1`: docs/security.md asks the DBA to."""
    public_may_connect = "select has_database_privilege('public', 'template1', 'CONNECT')"
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("grant connect on database template1 to public")
    try:
        result = tealeaves(env, "db", "start")
        assert result.returncode == 0, result.stderr
        with psycopg.connect(fresh_database) as conn:
            assert conn.execute(public_may_connect).fetchone() == (True,)
    finally:
        with psycopg.connect(fresh_database, autocommit=True) as conn:
            conn.execute("revoke connect on database template1 from public")


def test_a_reader_in_the_service_file_connects_with_its_password_in_a_private_file(env, fresh_database):
    name = unique("analyst")
    password = f"a:b\\c:{uuid.uuid4().hex}"  # the characters libpq's password file escapes
    result = tealeaves(env, "db", "reader", name, "--service", "--password", password)
    assert result.returncode == 0, result.stderr
    assert password not in result.stdout + result.stderr
    service_file = Path(result.stdout.strip())
    _, _, output = psql(service_file, f"service=tealeaves-{name}", "select current_user")
    assert output == name
    # A new password replaces the old one in the file: the service still connects.
    rotated = tealeaves(env, "db", "reader", name, "--service")
    assert rotated.returncode == 0, rotated.stderr
    assert password not in (service_file.parent / f"tealeaves-{name}.pgpass").read_text()
    assert psql(service_file, f"service=tealeaves-{name}", "select current_user")[2] == name
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(psycopg.conninfo.make_conninfo(fresh_database, user=name, password=password)).close()


def test_the_password_never_reaches_the_server_log(env, fresh_database, settings):
    log = EmbeddedPostgres(settings.pg_data, settings.pg_port, settings.pg_password_file).log_file
    database = psycopg.conninfo.conninfo_to_dict(fresh_database)["dbname"]
    with psycopg.connect(fresh_database, autocommit=True) as conn:  # log every statement run in this database
        conn.execute(sql.SQL("alter database {} set log_statement = 'all'").format(sql.Identifier(database)))
    start = log.stat().st_size
    password = f"pw-{uuid.uuid4().hex}"
    name = unique("metabase")
    url = make_reader(env, name, "--password", password)
    with psycopg.connect(url) as conn:  # the password works
        assert conn.execute("select current_user").fetchone() == (name,)
    # A failing run: a user without CREATEROLE gets as far as the statement carrying the password.
    weak = unique("weak")
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(sql.SQL("create role {} login password 'weak-secret'").format(sql.Identifier(weak)))
    weak_url = make_url(fresh_database).set(username=weak, password="weak-secret")
    weak_env = {**env, "TEALEAVES_DATABASE_URL": weak_url.render_as_string(hide_password=False)}
    failed_password = f"pw-{uuid.uuid4().hex}"
    failed = tealeaves(weak_env, "db", "reader", unique("looker"), "--password", failed_password)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    with log.open("rb") as file:
        file.seek(start)
        logged = file.read().decode(errors="replace")
    assert "SCRAM-SHA-256$" in logged and "ERROR:" in logged  # the statements and the failure were logged
    assert password not in logged and failed_password not in logged


def test_a_reader_sees_the_gates_verdict_but_not_the_rows_it_held_back(env, fresh_database, tmp_path):
    """The gate's samples come from a build that failed and was never published: BI must not read them."""
    from tealeaves.quality.gate import run_gate
    from tests.acquisition_cost_table import GOOD_ROWS, SUITE_FILE, TABLE_DDL

    suites = tmp_path / "expectations"
    suites.mkdir()
    shutil.copy(SUITE_FILE, suites / SUITE_FILE.name)
    planted = f"unpublished_{uuid.uuid4().hex[:8]}"  # a channel only the failing, held-back row carries
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("create schema marts_build")
        conn.execute(sql.SQL(TABLE_DDL).format(sql.Identifier("marts_build")))
        with conn.cursor() as cur:
            cur.executemany(
                "insert into marts_build.fct_acquisition_cost values (%s, %s, %s, %s, %s)",
                [*GOOD_ROWS, ("2024-03-01", planted, "-25.00", 0, None)],  # negative spend: blocks publishing
            )
    assert not run_gate(fresh_database, "marts_build", "held_back", suites_dir=suites).passed
    with psycopg.connect(fresh_database) as conn:  # the data team does see the offending row
        assert planted in str(
            conn.execute("select unexpected_sample from quality_samples.expectation_samples").fetchall()
        )

    url = make_reader(env, unique("metabase"))
    with psycopg.connect(url, autocommit=True) as conn:
        failed = conn.execute(
            "select expectation_type, column_name, unexpected_count from quality.expectation_results"
            " where run_id = 'held_back' and not success"
        ).fetchall()
        assert ("expect_column_values_to_be_between", "spend", 1) in failed  # the verdict is visible
        tables = [row[0] for row in conn.execute("select tablename from pg_tables where schemaname = 'quality'")]
        readable = [
            str(conn.execute(sql.SQL("select json_agg(t) from quality.{} as t").format(sql.Identifier(t))).fetchone())
            for t in tables
        ]
        assert planted not in "".join(readable)  # no column of `quality` carries the held-back row
        for relation in ("expectation_samples", "expectation_details"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL("select * from quality_samples.{}").format(sql.Identifier(relation)))


ERRORING_SUITE = """
import great_expectations as gx

from tealeaves.quality import Check

TABLE = "fct_acquisition_cost"
GRAIN = ("month", "channel")


def expectations():
    return [
        Check(
            gx.expectations.UnexpectedRowsExpectation(
                description="Channels are numbered (a wrong belief: the cast fails on the first name)",
                unexpected_rows_query="select * from {batch} where channel::integer < 0",
            )
        )
    ]
"""


def test_an_error_quoting_a_held_back_value_is_withheld_from_readers(env, fresh_database, tmp_path):
    """PostgreSQL names the value it could not read; the data team sees it, BI sees that the check broke."""
    from tealeaves.quality.gate import run_gate
    from tests.acquisition_cost_table import TABLE_DDL

    suites = tmp_path / "expectations"
    suites.mkdir()
    (suites / "fct_acquisition_cost.py").write_text(ERRORING_SUITE)
    planted = f"unpublished_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("create schema marts_build")
        conn.execute(sql.SQL(TABLE_DDL).format(sql.Identifier("marts_build")))
        conn.execute(
            "insert into marts_build.fct_acquisition_cost values (%s, %s, %s, %s, %s)",
            ("2024-03-01", planted, "25.00", 1, "25.00"),
        )
    assert not run_gate(fresh_database, "marts_build", "erroring", suites_dir=suites).passed
    with psycopg.connect(fresh_database) as conn:
        [(detail,)] = conn.execute(
            "select error from quality_samples.expectation_details where run_id = 'erroring'"
        ).fetchall()
    assert planted in detail, "the data team sees the whole message"

    url = make_reader(env, unique("metabase"))
    with psycopg.connect(url, autocommit=True) as conn:
        [(success, error)] = conn.execute(
            "select success, error from quality.expectation_results where run_id = 'erroring'"
        ).fetchall()
    assert not success and "invalid input syntax for type integer" in error
    assert planted not in error and "withheld" in error


OLD_RESULTS = """
create schema quality;
create table quality.validation_runs (
    run_id text not null, suite text not null, schema_name text not null, table_name text not null,
    success boolean not null, started_at timestamptz not null, finished_at timestamptz not null,
    primary key (run_id, suite)
);
create table quality.expectation_results (
    run_id text not null, suite text not null, expectation_type text not null, column_name text,
    kwargs jsonb not null, severity text not null, success boolean not null, observed_value jsonb,
    unexpected_count bigint, unexpected_sample jsonb not null, error text, recorded_at timestamptz not null,
    foreign key (run_id, suite) references quality.validation_runs (run_id, suite) on delete cascade
);
insert into quality.validation_runs values ('last_week', 'fct_x', 'marts_build', 'fct_x', false, now(), now());
insert into quality.expectation_results values
    ('last_week', 'fct_x', 'expect_column_values_to_be_between', 'spend', '{}', 'blocking', false,
     '{"element_count": 9}', 1, '[{"channel": "old_secret"}]', null, now());
"""


def test_samples_stored_before_the_move_leave_quality_on_the_next_gate_run(fresh_database):
    from tealeaves.quality.store import save_run

    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(OLD_RESULTS)
        save_run(conn, "today", [])
        columns = {
            row[0]
            for row in conn.execute(
                "select column_name from information_schema.columns"
                " where table_schema = 'quality' and table_name = 'expectation_results'"
            )
        }
        moved = conn.execute(
            "select unexpected_count, observed_value, unexpected_sample from quality_samples.expectation_details"
            " where run_id = 'last_week'"
        ).fetchall()
    assert "unexpected_sample" not in columns and "observed_value" not in columns
    assert moved == [(1, {"element_count": 9}, [{"channel": "old_secret"}])]
