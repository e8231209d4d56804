"""Source freshness: how long since each source's exports were last loaded, against the thresholds in the dbt
source YAML (`loaded_at_field: _loaded_at`, `warn_after`, `error_after`).

dbt computes it (`dbt source freshness`); this module runs it and reads its `sources.json`, so the hourly
quality DAG and the CLI get one verdict per source, the worst of its tables, with the numbers an alert needs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tealeaves.airflow_env import airflow_environ as environ
from tealeaves.config import Settings
from tealeaves.dbt_cli import dbt_executable
from tealeaves.orchestrate import PARSE_FLAGS, PARTIAL_PARSE, partial_parse_to_reuse
from tealeaves.state import UMASK, private_folder

# dbt's statuses, best first; `runtime error` means dbt could not measure (table missing, query failed).
STATUSES = ("pass", "warn", "error", "runtime error")
_PERIOD_HOURS = {"minute": 1 / 60, "hour": 1, "day": 24}


class FreshnessError(RuntimeError):
    pass


@dataclass(frozen=True)
class TableFreshness:
    source: str
    table: str
    status: str
    max_loaded_at: datetime | None
    age_hours: float | None
    warn_after_hours: float | None
    error_after_hours: float | None
    error: str | None = None


@dataclass(frozen=True)
class SourceFreshness:
    source: str
    tables: tuple[TableFreshness, ...]

    @property
    def status(self) -> str:
        return max((t.status for t in self.tables), key=STATUSES.index)

    @property
    def last_loaded_at(self) -> datetime | None:
        """When the stalest table of the source was last loaded: the source is as fresh as that table."""
        times = [t.max_loaded_at for t in self.tables if t.max_loaded_at is not None]
        return min(times) if times else None

    def stale_tables(self) -> list[TableFreshness]:
        return [t for t in self.tables if t.status != "pass"]


def check_freshness(settings: Settings, output: Path) -> list[SourceFreshness]:
    """Run `dbt source freshness` against the warehouse; one verdict per source, by source name.

    It starts from the partial parse the DAG's builds use (orchestrate.partial_parse_to_reuse), with the same flags: a
    fresh target folder would make dbt parse the whole project for every hourly check (about 11 s of its 16).
    dbt still checks what it reuses and parses anew whatever differs."""
    private_folder(output.parent)
    target = output.parent / "target"
    reused = partial_parse_to_reuse(settings)
    if reused is not None and not (target / PARTIAL_PARSE).exists():
        target.mkdir(exist_ok=True)
        shutil.copyfile(reused, target / PARTIAL_PARSE)  # build_manifest replaces it whole: a copy is one version
    dbt = dbt_executable()
    command = [dbt, "source", "freshness", *PARSE_FLAGS, "--output", str(output), "--target-path", str(target)]
    result = subprocess.run(
        command,
        cwd=settings.dbt_project_dir,
        env={**os.environ, **environ(settings)},
        capture_output=True,
        text=True,
        umask=UMASK,
    )
    # Exit 1 means "some source is stale", which is an answer; anything without an output file is a failure.
    if result.returncode not in (0, 1) or not output.exists():
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise FreshnessError(f"dbt source freshness failed (exit {result.returncode}):\n{tail}")
    return read_freshness(output)


def read_freshness(path: Path) -> list[SourceFreshness]:
    by_source: dict[str, list[TableFreshness]] = {}
    for entry in json.loads(path.read_text())["results"]:
        _, _, source, table = entry["unique_id"].split(".", 3)
        criteria = entry.get("criteria") or {}
        loaded = entry.get("max_loaded_at")
        age = entry.get("max_loaded_at_time_ago_in_s")
        by_source.setdefault(source, []).append(
            TableFreshness(
                source=source,
                table=table,
                status=entry["status"],
                max_loaded_at=datetime.fromisoformat(loaded) if loaded else None,
                age_hours=None if age is None else round(age / 3600, 2),
                warn_after_hours=_hours(criteria.get("warn_after")),
                error_after_hours=_hours(criteria.get("error_after")),
                error=entry.get("error") or (entry.get("message") if entry["status"] == "runtime error" else None),
            )
        )
    return [SourceFreshness(source, tuple(tables)) for source, tables in sorted(by_source.items())]


def _hours(threshold: dict | None) -> float | None:
    if not threshold or threshold.get("count") is None:
        return None
    return threshold["count"] * _PERIOD_HOURS[threshold["period"]]
