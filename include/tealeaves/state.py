"""tealeaves' state folder (TEALEAVES_HOME, `.tealeaves/`) is its user's alone.

It holds customer exports (the demo's, and the default data folder), the server's log, Airflow's logs, built
docs and secrets. Everything tealeaves writes there is created private (files 0600, folders 0700) from the first
byte: in this process by a umask of 077 around the writing (`private_files`), and in every process tealeaves
starts (PostgreSQL, Airflow, dbt) by starting it with that umask (`UMASK`), so there is no readable moment to
chmod away afterwards. Folders a user names outside the home (`--out`, TEALEAVES_DATA) keep the user's umask.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

UMASK = 0o077  # no group or other bits on anything created: files 0600, folders 0700


@contextmanager
def private_files() -> Iterator[None]:
    """Files and folders this process creates meanwhile are its user's only.

    The umask is the process's: use it around writing into the home from the main thread, as the CLI does.
    """
    previous = os.umask(UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def private_opener(path: str, flags: int) -> int:
    """`open(path, mode, opener=private_opener)`: a file this call creates is 0600, whatever the umask."""
    return os.open(path, flags, 0o600)


def inside(home: Path, path: Path) -> bool:
    """True when `path` lies in the state folder `home` (both resolved: `..` and symlinks count as they lead)."""
    return path.expanduser().resolve().is_relative_to(home.expanduser().resolve())


def private_folder(path: Path) -> Path:
    """`path` and any missing folder above it, made 0700 (a umask only takes bits away, so none is needed)."""
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    return path


def private_home(home: Path) -> None:
    """Make the state folder, or take back what others could do in one made before this rule.

    New: 0700. Existing: the folder and every file or folder directly in it lose group and other bits, so the
    files deeper down, which older versions wrote readable, are out of others' reach too. One exception: when
    tealeaves runs as root, the embedded server runs as a system user that must traverse the home to reach its
    data and log (tealeaves/db/embedded.py); the home keeps others' traverse (x) bit then, which reveals nothing
    but what is directly in it, all 0600 or 0700. Symbolic links are not followed: what they lead to is the user's.
    """
    home = private_folder(home).resolve()
    keep = stat.S_IXOTH if os.geteuid() == 0 else 0
    _take_back(home, keep)
    for entry in home.iterdir():
        _take_back(entry, 0)


def _take_back(path: Path, keep: int) -> None:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:  # a temporary file renamed away meanwhile
        return
    if stat.S_ISLNK(mode):
        return
    loose = stat.S_IMODE(mode) & 0o077 & ~keep
    if loose:
        path.chmod(stat.S_IMODE(mode) & ~loose)
