"""What the builds' dbt runs with (tealeaves.daily_builds.build_environ): PostgreSQL's parallel workers are off only
where dbt's threads already fill the server's cores, a server on this machine with no more cores than threads.

The machine's core count is set here, so the verdicts do not depend on the machine running the tests."""

from __future__ import annotations

import pytest

from tealeaves.config import Settings
from tealeaves.daily_builds import NO_PARALLEL_WORKERS, build_environ, dbt_threads


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    monkeypatch.delenv("PGOPTIONS", raising=False)


def test_profiles_give_dbt_two_threads():
    assert dbt_threads(Settings()) == 2


@pytest.mark.parametrize(
    "url", ["postgresql://u:p@127.0.0.1:5432/w", "postgresql://u:p@localhost/w", "postgresql://u:p@[::1]:5432/w"]
)
def test_a_server_on_this_machine_with_no_spare_core_plans_without_parallel_workers(two_cores, url):
    assert build_environ(Settings(database_url=url)) == {"PGOPTIONS": NO_PARALLEL_WORKERS}


def test_the_embedded_server_is_on_this_machine(two_cores):
    assert build_environ(Settings(database_url=None)) == {"PGOPTIONS": NO_PARALLEL_WORKERS}


def test_a_server_elsewhere_keeps_its_own_settings(two_cores):
    assert build_environ(Settings(database_url="postgresql://u:p@db.example.com:5432/w")) == {}


def test_more_cores_than_threads_keep_the_parallel_workers(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    assert build_environ(Settings(database_url="postgresql://u:p@127.0.0.1/w")) == {}


def test_a_users_own_pgoptions_are_kept(two_cores, monkeypatch):
    monkeypatch.setenv("PGOPTIONS", "-c statement_timeout=0")
    environ = build_environ(Settings(database_url="postgresql://u:p@127.0.0.1/w"))
    assert environ == {"PGOPTIONS": f"-c statement_timeout=0 {NO_PARALLEL_WORKERS}"}
