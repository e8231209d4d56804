"""The environment Airflow, Cosmos and dbt run in, derived from the one settings object.

Airflow reads its configuration when it is first imported, so every way of starting it (`tealeaves airflow`,
`make airflow`, `tealeaves demo`, the tests) applies this same mapping before that import.
"""

from __future__ import annotations

import json
import os

from tealeaves.airflow_login import users_setting
from tealeaves.config import Settings
from tealeaves.secret_files import made_secret

QUIET = {
    # The machine may have no internet: no telemetry, no version checks.
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "SCARF_ANALYTICS": "false",
    "GX_ANALYTICS_ENABLED": "False",
}


def warehouse_connection(settings: Settings) -> str:
    """The warehouse as an Airflow connection in JSON form (AIRFLOW_CONN_WAREHOUSE)."""
    url = settings.warehouse
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": url.host,
            "port": url.port or 5432,
            "login": url.username,
            "password": url.password or "",
            "schema": url.database,
        }
    )


def _jwt_secret(settings: Settings) -> str:
    """A per-installation secret for Airflow's API tokens, made on first use and kept out of the repo."""
    return made_secret(settings.home / "airflow-jwt.secret", 32)


def airflow_environ(settings: Settings) -> dict[str, str]:
    root = settings.project_root
    env = {
        **QUIET,
        "AIRFLOW_HOME": str(settings.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(root / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(root / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        # A login for the UI and the API (docs/security.md, "Airflow"); `airflow dags test` needs none.
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": users_setting(),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(settings.airflow_passwords_file),
        # Listen where the settings say (loopback by default); tasks reach the API there, and the UI fetches a
        # running task's log from the log server at the task's hostname, which is that address too.
        "AIRFLOW__API__HOST": settings.airflow_host,
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api_url(settings)}/execution/",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tealeaves.airflow_env.task_hostname",
        "TEALEAVES_AIRFLOW_HOST": settings.airflow_host,
        "TEALEAVES_AIRFLOW_PORT": str(settings.airflow_port),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": settings.url(settings.airflow_metadata, "postgresql+psycopg2"),
        "AIRFLOW__API_AUTH__JWT_SECRET": _jwt_secret(settings),
        "AIRFLOW__COSMOS__CACHE_DIR": str(settings.home / "cosmos-cache"),
        # Cosmos' watcher producer otherwise rewrites an Airflow Variable holding every state it has pushed so far
        # after each push, to restore them on a retry of the producer: quadratic in the nodes, 20 s of a 1k
        # customer build. Our producer never retries (tealeaves_airflow.dbt_build); on a failure Cosmos still
        # saves them once.
        "AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY": "False",
        # Task logs quote the data; Airflow makes their files 0664 and folders 0775 unless told (tealeaves.state).
        "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FILE_PERMISSIONS": "0o600",
        "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FOLDER_PERMISSIONS": "0o700",
        "AIRFLOW_CONN_WAREHOUSE": warehouse_connection(settings),
        # Tasks run in child processes: hand them the same tealeaves settings.
        "TEALEAVES_HOME": str(settings.home),
        "TEALEAVES_PG_PORT": str(settings.pg_port),
        "DBT_PROFILES_DIR": str(settings.dbt_project_dir),
        **_dbt_target(settings),
    }
    if settings.database_url:
        env["TEALEAVES_DATABASE_URL"] = settings.database_url
    if settings.data:
        env["TEALEAVES_DATA"] = str(settings.data_dir)
    return env


WILDCARDS = {"", "0.0.0.0", "::", "[::]"}


def local_address(host: str) -> str:
    """How a process on this machine reaches a server listening on `host` (a wildcard: through loopback)."""
    if host in WILDCARDS:
        return "127.0.0.1"
    host = host.strip("[]")
    return f"[{host}]" if ":" in host else host


def task_hostname() -> str:
    """Airflow's `hostname_callable`: the name a task records and the UI fetches its running log from.

    The log servers listen on TEALEAVES_AIRFLOW_HOST; on a wildcard address any name of this machine reaches them.
    """
    host = os.environ.get("TEALEAVES_AIRFLOW_HOST", "127.0.0.1")
    if host in WILDCARDS:
        import socket

        return socket.getfqdn()
    return local_address(host)


def api_url(settings: Settings) -> str:
    """Where the UI and the API answer, as seen from this machine."""
    return f"http://{local_address(settings.airflow_host)}:{settings.airflow_port}"


def _dbt_target(settings: Settings) -> dict[str, str]:
    """What dbt_project/profiles.yml reads, so the dbt CLI and Cosmos reach the same database."""
    url = settings.warehouse
    return {
        "TEALEAVES_DBT_HOST": url.host or "127.0.0.1",
        "TEALEAVES_DBT_PORT": str(url.port or 5432),
        "TEALEAVES_DBT_USER": url.username or "postgres",
        "TEALEAVES_DBT_PASSWORD": url.password or "",
        "TEALEAVES_DBT_DBNAME": url.database or "tealeaves",
    }


def apply(settings: Settings) -> dict[str, str]:
    """Put the mapping into this process's environment (before airflow is imported) and return it."""
    env = airflow_environ(settings)
    os.environ.update(env)
    return env
