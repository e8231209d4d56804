"""Airflow's task-log server, listening only on TEALEAVES_AIRFLOW_HOST.

The UI shows a running task's log by asking the log server where the task runs (port 8793, or 8794 for the
triggerer). Airflow's own, started inside `airflow scheduler` and `airflow triggerer`, listens on every address
and has no setting to change that; `tealeaves airflow up` starts those two with --skip-serve-logs and runs Airflow's
same log app here instead, on the same ports. It still answers only requests signed with Airflow's secret key.

Usage: python -m tealeaves.airflow_logs worker|trigger
"""

from __future__ import annotations

import sys

PORT_SETTINGS = {"worker": "worker_log_server_port", "trigger": "trigger_log_server_port"}


def serve(kind: str, host: str) -> None:
    import uvicorn
    from airflow.configuration import conf

    port = conf.getint("logging", PORT_SETTINGS[kind])
    uvicorn.run(
        "airflow.utils.serve_logs.log_server:get_app",
        factory=True,
        host=host.strip("[]"),
        port=port,
        log_level=conf.get("logging", "uvicorn_logging_level", fallback="info").lower(),
        log_config=None,
        access_log=False,
    )


def main(argv: list[str]) -> None:
    if len(argv) != 1 or argv[0] not in PORT_SETTINGS:
        raise SystemExit(f"usage: python -m tealeaves.airflow_logs {'|'.join(PORT_SETTINGS)}")
    from tealeaves.config import get_settings

    serve(argv[0], get_settings().airflow_host)


if __name__ == "__main__":
    main(sys.argv[1:])
