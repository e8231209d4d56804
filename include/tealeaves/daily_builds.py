"""How the daily DAG runs dbt, in one place: the DAG (dags/tealeaves_daily.py through tealeaves_airflow.dbt_build),
`tealeaves run`, the benchmark (bench/scale.py) and the tests read these instead of keeping copies of them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tealeaves.config import Settings

PREDICTED_LTV = "predicted_ltv"  # dbt tag of the marts that read the LTV predictions, built after predict_ltv
PRODUCER = "dbt_producer_watcher"  # the task id Cosmos gives the task that runs each group's `dbt build`
# dbt selectors the daily builds leave out: the unit tests check SQL on fixed inputs, not the day's data, so they
# cannot fail on a delivery (dbt's docs advise leaving them out of production builds); `make test` runs them
NOT_IN_PRODUCTION = ("resource_type:unit_test",)
# dbt runs in a copy of the project Cosmos deletes afterwards, with its debug log file in it: writing that file
# cost a fifth of the wall time of a small build (45.8 s against 36.0, three runs each), for nothing: the task
# log keeps dbt's own lines.
NO_FILE_LOG = ("--log-level-file", "none")


@dataclass(frozen=True)
class Build:
    """One of the DAG's `dbt build`s: its task group, and the nodes it selects and leaves out (dbt's selectors)."""

    group_id: str
    select: tuple[str, ...] = ()  # none: the whole project
    exclude: tuple[str, ...] = ()

    def selection(self) -> list[str]:
        """The build's selection as dbt's command line spells it."""
        return [
            *(["--select", *self.select] if self.select else []),
            *(["--exclude", *self.exclude] if self.exclude else []),
        ]


# Two builds around the LTV fit: the models predict_ltv reads first, then the marts that read its predictions (tag
# predicted_ltv and everything downstream of them).
BUILD_MARTS = Build("build_marts", exclude=(f"tag:{PREDICTED_LTV}+", *NOT_IN_PRODUCTION))
BUILD_PREDICTED_MARTS = Build("build_predicted_marts", select=(f"tag:{PREDICTED_LTV}+",), exclude=NOT_IN_PRODUCTION)
BUILDS = (BUILD_MARTS, BUILD_PREDICTED_MARTS)


# Hosts that are this machine: a server there shares its cores with dbt's threads.
THIS_MACHINE = {"", "127.0.0.1", "localhost", "::1", "[::1]"}
NO_PARALLEL_WORKERS = "-c max_parallel_workers_per_gather=0"


def dbt_threads(settings: Settings) -> int:
    """How many nodes dbt builds at once: `threads` in dbt_project/profiles.yml."""
    import yaml

    from tealeaves.config import DBT_PROFILE, DBT_TARGET

    profiles = yaml.safe_load((settings.dbt_project_dir / "profiles.yml").read_text(encoding="utf-8"))
    return int(profiles[DBT_PROFILE]["outputs"][DBT_TARGET]["threads"])


def build_environ(settings: Settings) -> dict[str, str]:
    """Variables the builds' dbt runs with, beside airflow_environ (Cosmos' `env`; the bench's dbt steps).

    dbt runs one query per thread. On a server on this machine with no more cores than dbt has threads, those
    queries already use every core, and PostgreSQL's parallel workers only take cores from the other thread's
    query. So the builds' sessions plan without them (PGOPTIONS, read by libpq when dbt connects; a user's own
    PGOPTIONS is kept). Measured on the bench's day two at 100,000 customers, two cores, alternating: the daily
    build took 27.9 and 30.0 s without them against 33.0 and 34.5 s with them (54.6 and 57.2 busy CPU seconds
    against 63.7 and 65.9); a full build 135.4 and 131.5 s against 131.6 and 128.1 s.
    """
    host = settings.warehouse.host or ""
    if not (host in THIS_MACHINE or host.startswith("/")) or (os.cpu_count() or 1) > dbt_threads(settings):
        return {}
    return {"PGOPTIONS": " ".join(filter(None, [os.environ.get("PGOPTIONS", ""), NO_PARALLEL_WORKERS]))}
