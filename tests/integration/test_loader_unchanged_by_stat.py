"""A company's export folder keeps every day's files: the loader knows an unchanged one by its stat, without reading
it (issue 15: each day's load hashed all the earlier days' gigabytes again), and reads every file a write touched.

What proves a file was not read: load_paths queues a ledger line, from the ledger's sequence, for every file it
reads (load_file hashes it, then drops the line of content already loaded); a file known by its stat takes none.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from tealeaves.load import load_paths
from tealeaves.load.loader import SETTLED_NS, file_stat
from tests.crm_companies import HEADER_LINE as HEADER
from tests.warehouse import query

ROW = "1,{name},acme.com,2025-01-02T10:00:00Z,customer,PAID_SEARCH,saas,40,US\n"


def export(folder: Path, name: str = "Acme") -> Path:
    path = folder / "crm" / "companies.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + ROW.format(name=name), encoding="utf-8")
    return path


def settle() -> None:
    """Past the window in which a file just written may still change within one tick of the file system's clock."""
    time.sleep(SETTLED_NS / 1e9 + 0.2)


def lines_taken(url: str) -> int:
    return query(url, "select last_value from raw.load_batches_batch_id_seq")[0][0]


def statuses(url: str, folder: Path) -> list[str]:
    return [r.status for r in load_paths(url, [folder], "crm")]


def test_an_unchanged_file_is_known_by_its_stat_without_being_read(tmp_path, fresh_database):
    path = export(tmp_path)
    settle()
    assert statuses(fresh_database, tmp_path) == ["loaded"]
    assert query(fresh_database, "select file_stat from raw.load_batches") == [(file_stat(path),)]
    taken = lines_taken(fresh_database)

    assert statuses(fresh_database, tmp_path) == ["unchanged"]

    assert lines_taken(fresh_database) == taken
    assert query(fresh_database, "select count(*) from raw.load_batches") == [(1,)]


def test_a_touched_file_is_read_again_and_then_known_by_its_new_stat(tmp_path, fresh_database):
    path = export(tmp_path)
    settle()
    statuses(fresh_database, tmp_path)
    os.utime(path)  # the same content, written again
    settle()
    taken = lines_taken(fresh_database)

    assert statuses(fresh_database, tmp_path) == ["unchanged"]  # by its content

    assert lines_taken(fresh_database) == taken + 1
    assert query(fresh_database, "select file_stat from raw.load_batches") == [(file_stat(path),)]
    assert statuses(fresh_database, tmp_path) == ["unchanged"]
    assert lines_taken(fresh_database) == taken + 1


def test_a_file_rewritten_to_the_same_size_loads_again(tmp_path, fresh_database):
    path = export(tmp_path)
    settle()
    statuses(fresh_database, tmp_path)
    size = path.stat().st_size
    export(tmp_path, name="Acmf")
    assert path.stat().st_size == size
    settle()

    assert statuses(fresh_database, tmp_path) == ["loaded"]

    assert query(fresh_database, "select name from raw.crm_companies order by _batch_id") == [("Acme",), ("Acmf",)]


def test_a_file_rewritten_with_its_old_modification_time_loads_again(tmp_path, fresh_database):
    """What `cp -p` or `rsync -t` leave: the modification time set back; the change time cannot be."""
    path = export(tmp_path)
    settle()
    statuses(fresh_database, tmp_path)
    before = path.stat()
    export(tmp_path, name="Acmf")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    settle()

    assert statuses(fresh_database, tmp_path) == ["loaded"]


def test_a_file_written_a_moment_ago_is_read_every_time(tmp_path, fresh_database, monkeypatch):
    # a window no load of one line outlasts, however busy the machine
    monkeypatch.setattr("tealeaves.load.loader.SETTLED_NS", 600 * 1_000_000_000)
    export(tmp_path)
    assert statuses(fresh_database, tmp_path) == ["loaded"]
    assert query(fresh_database, "select file_stat from raw.load_batches") == [(None,)]
    taken = lines_taken(fresh_database)

    assert statuses(fresh_database, tmp_path) == ["unchanged"]

    assert lines_taken(fresh_database) == taken + 1
