"""BI tools read what passed the gate and nothing else: a `bi_reader` login sees `marts` and `quality`, not `raw`."""

from __future__ import annotations

import psycopg
import pytest

from tealeaves.publish import publish_marts
from tests.cli import tealeaves

LAYERS = ("raw", "staging", "intermediate", "marts_build", "quality", "quality_samples")


@pytest.fixture
def published(fresh_database: str) -> str:
    """A warehouse with a table in every layer and an audited build published to `marts`."""
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        for schema in LAYERS:
            conn.execute(f"create schema {schema}")
            conn.execute(f"create table {schema}.facts as select 1 as answer")
    publish_marts(fresh_database)
    with psycopg.connect(fresh_database, autocommit=True) as conn:  # the next run's build, not yet audited
        conn.execute("create schema marts_build")
        conn.execute("create table marts_build.facts as select 2 as answer")
    return fresh_database


def reader_url(cli_env: dict[str, str], warehouse: str, name: str) -> str:
    result = tealeaves({**cli_env, "TEALEAVES_DATABASE_URL": warehouse}, "db", "reader", name)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_a_bi_login_reads_marts_and_quality(published, cli_env):
    url = reader_url(cli_env, published, "metabase")
    assert url.startswith("postgresql://metabase:")
    with psycopg.connect(url) as conn:
        assert conn.execute("select answer from marts.facts").fetchone() == (1,)
        assert conn.execute("select answer from quality.facts").fetchone() == (1,)


@pytest.mark.parametrize(
    "schema", ["raw", "staging", "intermediate", "marts_build", "marts_previous", "quality_samples"]
)
def test_a_bi_login_is_refused_everything_not_audited(published, cli_env, schema):
    url = reader_url(cli_env, published, "superset")
    publish_marts(published)  # a second publish makes marts_previous
    with psycopg.connect(published, autocommit=True) as conn:
        conn.execute("create schema marts_build")
        conn.execute("create table marts_build.facts as select 3 as answer")
    with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(f"select answer from {schema}.facts")


def test_the_next_publish_keeps_the_login_working(published, cli_env):
    url = reader_url(cli_env, published, "tableau")
    publish_marts(published)  # the schema swap makes a new `marts`; grants must follow
    with psycopg.connect(url) as conn:
        assert conn.execute("select answer from marts.facts").fetchone() == (2,)


def test_a_login_cannot_be_named_like_the_group_or_injected(published, cli_env):
    env = {**cli_env, "TEALEAVES_DATABASE_URL": published}
    for bad in ("bi_reader", "x; drop table raw.facts"):
        result = tealeaves(env, "db", "reader", bad)
        assert result.returncode == 2 and "error:" in result.stderr
