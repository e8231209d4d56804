"""Migrate Superset's tables, set its admin login, import the dashboards. Runs in Superset's interpreter (.venv-bi).

The one setup of Superset, for both places it runs, with SUPERSET_CONFIG_PATH naming its superset_config.py:

- `tealeaves bi up` runs `.venv-bi/bin/python -I superset_setup.py PLAN`. PLAN is a 0600 JSON file of what to do,
  so the admin's and the reader's passwords never reach a command line, an environment or a log:

      {"migrate": true, "admin_password": "...", "dashboards": "/repo/bi/superset",
       "warehouse": "postgresql://127.0.0.1:5432/tealeaves", "reader_login": "superset",
       "reader_password": "...", "bundle": "/home/superset/dashboards.zip"}

  (`tealeaves bi rotate-secret` sends {"previous_secret_key": "..."} alone: Superset's re-encrypt-secrets.)

- the container stack's `superset-init` service runs `python -m tealeaves.bi.superset_setup --from-environment`:
  the same plan, read from the service's environment (`plan_from_environ`; docker-compose.yml).

The bundle (bundle.py) is built here, in Superset's interpreter, from the repository's folder, and removed after
the import. One process does the migration, `superset init`, the admin login, the import and the pruning of what
the bundle no longer holds: Superset's app takes seconds to load, and each CLI command would load it again. The one
line printed last on stderr is what went wrong.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from zipfile import ZipFile

if not __package__:  # run as a file (`python -I superset_setup.py`): the package is two folders up
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tealeaves.bi.bundle import build_bundle  # noqa: E402 - after the path above

ADMIN = "admin"
# The objects the bundle imported, by uuid, in a table of Superset's metadata database beside them: an object the
# repository no longer holds is removed from Superset at the next import, and only such an object (a chart made
# in Superset's UI was never the bundle's, whoever made it).
OWNED_TABLE = "tealeaves_bundle_objects"
KINDS = ("dashboards", "charts", "datasets")  # pruned in this order: a dashboard goes before its charts

# The container's plan: docker-compose.yml sets these on the superset-init service.
ENVIRONMENT = {
    "admin_password": "TEALEAVES_BI_ADMIN_PASSWORD",
    "reader_password": "TEALEAVES_BI_READER_PASSWORD",
    "warehouse": "TEALEAVES_BI_WAREHOUSE_URL",
}
DEFAULT_DASHBOARDS = "/opt/tealeaves/bi/superset"


def migrate_and_init(app) -> None:
    """`superset db upgrade` and `superset init`: tables at head, roles and permissions in place."""
    from flask_migrate import upgrade
    from superset import security_manager
    from superset.extensions import appbuilder, db

    upgrade(directory=str(Path(app.root_path) / "migrations"))
    appbuilder.add_permissions(update_perms=True)
    security_manager.sync_role_definitions()
    db.session.commit()


def set_admin(password: str) -> None:
    """The one admin login, created on the first start; its password is the file's at every start."""
    from superset import security_manager
    from superset.extensions import db

    user = security_manager.find_user(username=ADMIN)
    if user is None:
        role = security_manager.find_role("Admin")
        user = security_manager.add_user(ADMIN, "tealeaves", "admin", "admin@localhost", role, password=password)
        if not user:
            raise RuntimeError("Superset refused to create the admin user")
    else:
        security_manager.reset_password(user.id, password)
    db.session.commit()


def import_bundle(bundle: Path, passwords: dict[str, str]) -> dict[str, list[str]]:
    """The dashboards as code, overwriting what the UI changed: the repo's YAML is the truth.

    Imported as Superset's "assets" rather than as dashboards: the dashboard importer keeps every database,
    dataset and chart that exists already, so a chart changed in the repository (or the warehouse's new port)
    would never arrive. The assets importer overwrites them all; the files are the same export format.
    Returns the uuids the bundle holds, by kind.
    """
    import yaml
    from flask import g
    from superset import security_manager
    from superset.commands.importers.v1.assets import ImportAssetsCommand
    from superset.commands.importers.v1.utils import METADATA_FILE_NAME, get_contents_from_bundle

    g.user = security_manager.find_user(username=ADMIN)
    with ZipFile(bundle) as archive:
        contents = get_contents_from_bundle(archive)
    metadata = yaml.safe_load(contents[METADATA_FILE_NAME])
    contents[METADATA_FILE_NAME] = yaml.safe_dump({**metadata, "type": "assets"})
    ImportAssetsCommand(contents, passwords=passwords).run()
    held: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for name, text in contents.items():
        kind = name.split("/", 1)[0]
        if kind in held:
            held[kind].append(str(yaml.safe_load(text)["uuid"]))
    return held


def prune(held: dict[str, list[str]]) -> dict[str, list[str]]:
    """Remove what an earlier import of the bundle made and the bundle no longer holds; record what it holds now.

    Only uuids recorded by an earlier import are candidates, so an object made in the UI is never touched. A
    dataset goes only when no chart uses it any more (a chart made in the UI on it keeps it, and it stays on the
    record until it can go). Returns the names removed, by kind.
    """
    from sqlalchemy import text
    from superset.connectors.sqla.models import SqlaTable
    from superset.extensions import db
    from superset.models.dashboard import Dashboard
    from superset.models.slice import Slice

    session = db.session
    session.execute(text(f"create table if not exists {OWNED_TABLE} (kind text not null, uuid text primary key)"))
    recorded: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for kind, uuid in session.execute(text(f"select kind, uuid from {OWNED_TABLE}")):
        recorded.setdefault(kind, set()).add(uuid)
    models = {
        "dashboards": (Dashboard, "dashboard_title"),
        "charts": (Slice, "slice_name"),
        "datasets": (SqlaTable, "table_name"),
    }
    removed: dict[str, list[str]] = {kind: [] for kind in KINDS}
    kept_on_record: set[str] = set()
    for kind in KINDS:
        model, label = models[kind]
        gone = recorded.get(kind, set()) - set(held[kind])
        for item in session.query(model).all():
            if str(item.uuid) not in gone:
                continue
            if (
                kind == "datasets"
                and session.query(Slice).filter_by(datasource_id=item.id, datasource_type="table").count()
            ):
                kept_on_record.add(str(item.uuid))
                continue
            removed[kind].append(getattr(item, label))
            session.delete(item)
            session.flush()  # a dashboard's rows in dashboard_slices go before its charts do
    session.execute(text(f"delete from {OWNED_TABLE}"))
    rows = [{"kind": kind, "uuid": uuid} for kind in KINDS for uuid in held[kind]]
    rows += [{"kind": "datasets", "uuid": uuid} for uuid in kept_on_record]
    if rows:
        session.execute(text(f"insert into {OWNED_TABLE} (kind, uuid) values (:kind, :uuid)"), rows)
    session.commit()
    return removed


def import_dashboards(plan: Mapping) -> None:
    """Build the bundle of the repository's folder for this warehouse, import it, prune, remove the zip."""
    from sqlalchemy.engine import make_url

    target = Path(plan["bundle"])
    login = plan.get("reader_login", "superset")
    warehouse = make_url(plan["warehouse"]).set(password=None)
    try:
        databases, _ = build_bundle(Path(plan["dashboards"]), target, warehouse, login)
        held = import_bundle(target, {name: plan["reader_password"] for name in databases})
    finally:
        target.unlink(missing_ok=True)
    removed = prune(held)
    for kind, names in removed.items():
        for name in names:
            logging.getLogger("tealeaves").info("removed from Superset, no longer in the bundle: %s %r", kind, name)


def re_encrypt(previous_secret_key: str) -> None:
    """`superset re-encrypt-secrets`: what Superset encrypted with the previous key (the reader's password), now
    encrypted with the key this app was loaded with, and every encrypted value read back with it, in one
    transaction: a key that cannot read Superset's tables is never left in place. The previous key comes in
    the plan file, never on a command line.

    Superset 6.1's own command re-encrypts nothing: it looks for encrypted columns in Flask-SQLAlchemy's metadata,
    and Superset's models are declared on Flask-AppBuilder's (apache/superset#39391, fixed upstream by #39390).
    Its migrator is used here with the discovery that fix makes: both metadata collections.
    """
    import superset.models.core  # noqa: F401 - the models with encrypted columns, on Model.metadata
    from flask_appbuilder import Model
    from sqlalchemy import text
    from sqlalchemy_utils import EncryptedType
    from superset.extensions import db
    from superset.utils.encrypt import SecretsMigrator

    def encrypted_columns() -> dict[str, dict]:
        found: dict[str, dict] = {}
        for metadata in (Model.metadata, db.metadata):
            for name, table in metadata.tables.items():
                columns = {key: col.type for key, col in table.columns.items() if isinstance(col.type, EncryptedType)}
                if columns:
                    found.setdefault(name, {}).update(columns)
        return found

    class Migrator(SecretsMigrator):
        def run(self) -> None:
            """SecretsMigrator.run, with the discovery above and the read-back inside its one transaction."""
            found = encrypted_columns()
            with db.engine.begin() as conn:
                for table, columns in found.items():
                    for row in self._select_columns_from_table(conn, list(columns), table):
                        self._re_encrypt_row(conn, row, table, columns)
                for table, columns in found.items():  # a value the new key cannot read rolls it all back
                    for row in conn.execute(text(f"select {', '.join(columns)} from {table}")):  # noqa: S608
                        for (name, kind), value in zip(columns.items(), row, strict=True):
                            kind.process_result_value(self._read_bytes(name, value), self._dialect)

    Migrator(previous_secret_key=previous_secret_key).run()


def plan_from_environ(environ: Mapping[str, str]) -> dict:
    """The container's plan (docker-compose.yml's superset-init): migrate, set the admin, import the repository's
    dashboards. A variable missing is named; its value never is."""
    missing = [name for name in ENVIRONMENT.values() if not environ.get(name)]
    if missing:
        raise KeyError(f"set {', '.join(missing)} in the environment (docker-compose.yml reads them from .env)")
    data_dir = Path(environ.get("SUPERSET_HOME", "/var/lib/superset"))
    plan = {key: environ[name] for key, name in ENVIRONMENT.items()}
    previous_key = environ.get("TEALEAVES_BI_PREVIOUS_SECRET_KEY")  # set for one start after a key change
    return {
        **plan,
        **({"previous_secret_key": previous_key} if previous_key else {}),
        "migrate": True,  # a no-op at head, and the init container runs once per `docker compose up`
        "dashboards": environ.get("TEALEAVES_BI_DASHBOARDS", DEFAULT_DASHBOARDS),
        "reader_login": environ.get("TEALEAVES_BI_READER_LOGIN", "superset"),
        "bundle": str(data_dir / "dashboards.zip"),
    }


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO)
    if argv == ["--from-environment"]:
        try:
            plan = plan_from_environ(os.environ)
        except KeyError as exc:
            print(f"tealeaves-setup-error: reading the plan: {exc.args[0]}", file=sys.stderr, flush=True)
            return 2
    elif len(argv) == 1:
        plan = json.loads(Path(argv[0]).read_text())
    else:
        print("usage: superset_setup.py PLAN.json | --from-environment", file=sys.stderr)
        return 2
    return run(plan)


def run(plan: Mapping) -> int:
    from superset.app import create_app

    app = create_app()
    with app.app_context():
        step = "migrating Superset's metadata database"
        try:
            if plan.get("migrate"):
                migrate_and_init(app)
            step = "setting the admin login"
            if plan.get("admin_password"):
                set_admin(plan["admin_password"])
            step = "re-encrypting Superset's stored secrets with its new key"
            if plan.get("previous_secret_key"):
                re_encrypt(plan["previous_secret_key"])
            step = "importing the dashboards"
            if plan.get("dashboards"):
                import_dashboards(plan)
        except Exception as exc:  # noqa: BLE001 - the traceback goes to the log, one line to tealeaves
            logging.getLogger("tealeaves").exception("superset setup failed while %s", step)
            detail = _messages(exc)
            print(f"tealeaves-setup-error: {step}: {detail}", file=sys.stderr, flush=True)
            return 1
    return 0


def _messages(exc: BaseException) -> str:
    """Superset's import errors keep the reasons in `.messages`; the first line of each is enough."""
    messages = getattr(exc, "normalized_messages", None)
    text = json.dumps(messages()) if callable(messages) else str(exc)
    return (text.strip().splitlines() or [type(exc).__name__])[0][:500]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
