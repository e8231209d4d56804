"""The dashboards as code (bi/superset/, Superset's own export format) zipped for Superset's importer.

The repository's database YAML names the warehouse as the default embedded server does; the bundle gets the
URL of the warehouse this installation uses, with the reader login `superset` and its password masked, as
Superset exports it. The password goes to the importer beside the zip (superset_setup.py), never into a file of
the repository or the zip.

Imported by superset_setup.py in Superset's own interpreter (.venv-bi, or the container's image): standard library,
PyYAML, SQLAlchemy's URL and tealeaves.secret_files only, which both interpreters have.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import yaml
from sqlalchemy.engine import URL

from tealeaves.secret_files import write_secret

ROOT_FOLDER = "tealeaves_dashboards"  # Superset's importer drops the zip's first folder from every name
PASSWORD_MASK = "XXXXXXXXXX"  # Superset's own mask for a password it does not export
DRIVER = "postgresql+psycopg2"


class BundleError(ValueError):
    pass


def database_files(source: Path) -> list[Path]:
    return sorted((source / "databases").glob("*.yaml"))


def reader_uri(warehouse: URL, login: str) -> str:
    """The warehouse as the reader login sees it, password masked: the database YAML's `sqlalchemy_uri`."""
    url = warehouse.set(drivername=DRIVER, username=login, password=PASSWORD_MASK)
    return url.render_as_string(hide_password=False)


def check_source(source: Path) -> None:
    """Refuse a folder that is no Superset export before anything starts."""
    if not database_files(source) or not (source / "metadata.yaml").exists():
        raise BundleError(f"{source} holds no Superset export (metadata.yaml and databases/*.yaml are needed)")


def build_bundle(source: Path, target: Path, warehouse: URL, login: str) -> tuple[list[str], str]:
    """Write the zip (0600) and return the names the importer keys passwords by, and the zip's fingerprint.

    Runs in Superset's interpreter (superset_setup.py), where SQLAlchemy is 1.4: only URL methods 1.4 has.
    """
    files = sorted(p for p in source.rglob("*.yaml") if p.is_file())
    check_source(source)
    members: dict[str, str] = {}
    databases = []
    for path in files:
        name = path.relative_to(source).as_posix()
        text = path.read_text()
        if name.startswith("databases/"):
            config = yaml.safe_load(text)
            if not isinstance(config, dict) or "sqlalchemy_uri" not in config:
                raise BundleError(f"{path}: a database export needs sqlalchemy_uri")
            config["sqlalchemy_uri"] = reader_uri(warehouse, login)
            text = yaml.safe_dump(config, sort_keys=False)
            databases.append(name)
        members[name] = text
    digest = hashlib.sha256()
    for name, text in members.items():
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    write_secret(target, "")  # created 0600 before the zip's bytes go in
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(f"{ROOT_FOLDER}/{name}", text)
    return databases, digest.hexdigest()
