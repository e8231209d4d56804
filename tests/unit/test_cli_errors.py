"""Failures no command foresaw still reach the user as one line and an exit code, never a traceback."""

from __future__ import annotations

import os
import subprocess

from tests.conftest import TEALEAVES


def tealeaves(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TEALEAVES, *args], capture_output=True, text=True, timeout=120, env={**os.environ, **env})


def test_an_output_folder_that_cannot_be_made_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for command in (["generate", "--customers", "5", "--months", "1"], ["sample", "cdnow"]):
        run = tealeaves(*command, "--out", str(blocker / "exports"))
        assert run.returncode == 1, run.stderr
        assert "Traceback" not in run.stdout + run.stderr
        [line] = run.stderr.strip().splitlines()
        assert line.startswith(f"error: {blocker / 'exports'}") and line.endswith(": Not a directory")


def test_the_traceback_is_there_for_a_developer_who_asks(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    run = tealeaves("sample", "cdnow", "--out", str(blocker / "exports"), TEALEAVES_DEBUG="1")
    assert run.returncode == 1 and "Traceback" in run.stderr and "NotADirectoryError" in run.stderr


def test_rotating_superset_s_key_where_it_never_ran_is_one_line_and_makes_no_key(tmp_path):
    home = tmp_path / "home"
    run = tealeaves("bi", "rotate-secret", TEALEAVES_HOME=str(home))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    [line] = run.stderr.strip().splitlines()
    assert line.startswith("error: Superset ")
    assert not (home / "superset" / "secret-key").exists()
