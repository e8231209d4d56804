"""One more day of exports, built incrementally, gives the marts a full rebuild gives, row for row (issue 15).

Two warehouses get the same files. Warehouse `incremental` loads day one and builds; then loads day two and
builds again, where the ticket-keyed support models recompute only the tickets day two touched or left open.
Warehouse `rebuilt` loads both days and builds once, from scratch. Every intermediate table and every mart
must then hold the same multiset of rows.

Day two is what a help desk's next incremental export holds, cut from one generated world at a moment near
its end: the tickets updated since (their final records; day one holds an earlier copy of those that already
existed, still open), the comments, status and priority changes and metric events dated since, and the
satisfaction ratings given since. Every other file, late deliveries included, is day one's: day one's build
must pass its tests as a real day's would.
"""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from tests.conftest import PREDICTED_LTV, create_database, dbt_build
from tests.exports import read_jsonl
from tests.warehouse import query

WORLD = {"customers": 250, "months": 6, "seed": 515}
BUILD = f"fqn:* --exclude tag:{PREDICTED_LTV}+"
INCREMENTAL_MODELS = ("int_ticket_statuses_dated", "int_tickets_measured", "int_tickets_sla_targets")
# The file of each support entity and the field that dates a record in it (Zendesk's export field names).
DATED_SUPPORT = {
    "tickets": "updated_at",
    "ticket_comments": "created_at",
    "ticket_field_history": "updated",
    "ticket_metric_events": "time",
    "satisfaction_ratings": "updated_at",
}


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _split(record_line: str, field: str, cut: datetime) -> bool | None:
    """True if the record is dated after the cut, False if not, None if the line is not a dated record."""
    try:
        record = json.loads(record_line)
        return _instant(record[field]) > cut
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def split_days(exports: Path, day_one: Path, day_two: Path, cut: datetime) -> dict[str, int]:
    """Write day one's and day two's folders; returns how many records day two got per file."""
    moved: dict[str, int] = {}
    for source in sorted(p for p in exports.iterdir() if p.is_dir()):
        (day_one / source.name).mkdir(parents=True)
        for path in sorted(source.iterdir()):
            entity = path.name.removesuffix(".jsonl")
            if source.name != "support" or entity not in DATED_SUPPORT:
                shutil.copy(path, day_one / source.name / path.name)
                continue
            first, second = [], []
            for line in path.read_text(encoding="utf-8").splitlines():
                later = _split(line, DATED_SUPPORT[entity], cut)
                if not later:
                    first.append(line)
                    continue
                second.append(line)
                record = json.loads(line)
                if entity == "tickets" and _instant(record["created_at"]) <= cut:
                    # the copy day one's export held: the ticket as it was created, still open
                    first.append(json.dumps({**record, "status": "open", "updated_at": record["created_at"]}))
            (day_one / source.name / path.name).write_text("\n".join(first) + "\n", encoding="utf-8")
            (day_two / source.name).mkdir(parents=True, exist_ok=True)
            (day_two / source.name / f"{entity}__next_day.jsonl").write_text("\n".join(second) + "\n", encoding="utf-8")
            moved[path.name] = len(second)
    return moved


def _load(url: str, folder: Path) -> None:
    from tealeaves.load import load_paths

    load_paths(url, sorted(p for p in folder.iterdir() if p.is_dir()))


def _tables(url: str) -> list[tuple[str, str]]:
    return query(
        url,
        "select table_schema, table_name from information_schema.tables"
        " where table_schema in ('intermediate', 'marts_build') and table_name <> 'incremental_state'"
        " order by 1, 2",
    )


def _hashable(value):
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _rows(url: str, schema: str, table: str) -> Counter:
    return Counter(tuple(map(_hashable, row)) for row in query(url, f'select * from "{schema}"."{table}"'))


def _recomputed(log: Path, model: str) -> int:
    """How many tickets the model's last run recomputed, from dbt's debug log (macro incremental_keys)."""
    counts = re.findall(rf"{model}: recomputing (\d+) keys", log.read_text(encoding="utf-8"))
    assert counts, f"{model} did not run incrementally"
    return int(counts[-1])


def test_an_incremental_daily_run_equals_a_full_rebuild(server, tmp_path):
    from tealeaves.generate import generate

    exports = tmp_path / "exports"
    generate(exports, **WORLD)
    tickets = read_jsonl(exports / "support", "tickets").values()
    end = max(_instant(t["updated_at"]) for t in tickets if t.get("updated_at"))
    cut = end - timedelta(days=4)
    moved = split_days(exports, tmp_path / "day1", tmp_path / "day2", cut)
    assert moved["tickets.jsonl"] > 0 and moved["ticket_comments.jsonl"] > 0, moved

    incremental = create_database(server, "t_incremental_daily")
    _load(incremental, tmp_path / "day1")
    dbt_build(incremental, BUILD, tmp_path / "dbt-day1")
    _load(incremental, tmp_path / "day2")
    dbt_build(incremental, BUILD, tmp_path / "dbt-day2")

    rebuilt = create_database(server, "t_incremental_rebuilt")
    _load(rebuilt, tmp_path / "day1")
    _load(rebuilt, tmp_path / "day2")
    dbt_build(rebuilt, BUILD, tmp_path / "dbt-rebuilt")

    # the second build took the incremental path, over fewer tickets than the warehouse holds
    all_tickets = query(incremental, "select count(*) from intermediate.int_tickets_measured")[0][0]
    for model in INCREMENTAL_MODELS:
        assert 0 < _recomputed(tmp_path / "dbt-day2" / "logs" / "dbt.log", model) < all_tickets, model

    tables = _tables(rebuilt)
    assert _tables(incremental) == tables
    assert ("marts_build", "fct_support_tickets") in tables
    differing = {}
    for schema, table in tables:
        a, b = _rows(incremental, schema, table), _rows(rebuilt, schema, table)
        if a != b:
            differing[f"{schema}.{table}"] = (sum((a - b).values()), sum((b - a).values()))
    assert differing == {}, f"rows only after the incremental run / only after the rebuild: {differing}"
