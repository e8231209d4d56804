"""Migrate Superset's tables, set its admin login, import the dashboards. Runs in Superset's interpreter (.venv-bi).

tealeaves never imports this module: `tealeaves bi up` runs it as `.venv-bi/bin/python -I superset_setup.py`, with
SUPERSET_CONFIG_PATH naming the superset_config.py it wrote. Its one argument is a 0600 JSON file of what to do,
so the admin's and the reader's passwords never reach a command line or a log:

    {"migrate": true, "admin_password": "...", "bundle": "/path/bundle.zip",
     "passwords": {"databases/tealeaves_warehouse.yaml": "..."}}

One process does the migration, `superset init`, the admin login and the import: Superset's app takes seconds to
load, and each CLI command would load it again. The one line printed last on stderr is what went wrong.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from zipfile import ZipFile

ADMIN = "admin"


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


def import_bundle(bundle: Path, passwords: dict[str, str]) -> None:
    """The dashboards as code, overwriting what the UI changed: the repo's YAML is the truth.

    Imported as Superset's "assets" rather than as dashboards: the dashboard importer keeps every database,
    dataset and chart that exists already, so a chart changed in the repository (or the warehouse's new port)
    would never arrive. The assets importer overwrites them all; the files are the same export format.
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


def main(plan_path: str) -> int:
    plan = json.loads(Path(plan_path).read_text())
    logging.basicConfig(level=logging.INFO)
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
            step = "importing the dashboards"
            if plan.get("bundle"):
                import_bundle(Path(plan["bundle"]), plan.get("passwords", {}))
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
    sys.exit(main(sys.argv[1]))
