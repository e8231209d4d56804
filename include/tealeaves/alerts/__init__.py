"""Tell the data team when the daily data is wrong, stale, broken or late, once per failure, and when it is fixed.

Callers report states every time they know them (`report_gate`, `report_freshness`, ...); the no-repeat
state in `quality.alert_state` decides what is worth a message. Apprise delivers it to every channel: the Apprise
URLs of `TEALEAVES_ALERT_URLS`, and email and Slack as configured by the older `TEALEAVES_ALERT_*` settings or
the Airflow connections `tealeaves_smtp`/`tealeaves_slack`. See docs/alerts.md.
"""

from tealeaves.alerts.channels import ConnectionFields, load_channels
from tealeaves.alerts.delivery import Channel, Delivery, deliver
from tealeaves.alerts.incidents import (
    Report,
    docs_location,
    report_freshness,
    report_gate,
    report_raw_gate,
    report_run_late,
    report_run_success,
    report_source_freshness,
    report_task_failure,
)
from tealeaves.alerts.message import Alert, Section

__all__ = [
    "Alert",
    "Channel",
    "ConnectionFields",
    "Delivery",
    "Report",
    "Section",
    "deliver",
    "docs_location",
    "load_channels",
    "report_freshness",
    "report_gate",
    "report_raw_gate",
    "report_run_late",
    "report_run_success",
    "report_source_freshness",
    "report_task_failure",
]
