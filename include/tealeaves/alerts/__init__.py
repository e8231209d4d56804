"""Tell the data team when the daily data is wrong, stale, broken or late, once per failure, and when it is fixed.

Callers report states every time they know them (`report_gate`, `report_freshness`, ...); the no-repeat
state in `quality.alert_state` decides what is worth a message. Channels: email (SMTP) and Slack (incoming
webhook), configured by `TEALEAVES_ALERT_*` or the Airflow connections `tealeaves_smtp`/`tealeaves_slack`.
See docs/alerts.md.
"""

from tealeaves.alerts.channels import (
    Channel,
    ChannelError,
    ConnectionFields,
    Delivery,
    EmailChannel,
    SlackChannel,
    deliver,
    load_channels,
)
from tealeaves.alerts.message import Alert, Section
from tealeaves.alerts.published import (
    Publication,
    bi_reads,
    held_back,
    held_back_batches,
    last_publication,
    record_publication,
)
from tealeaves.alerts.report import (
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

__all__ = [
    "Alert",
    "Channel",
    "ChannelError",
    "ConnectionFields",
    "Delivery",
    "EmailChannel",
    "Publication",
    "Report",
    "Section",
    "SlackChannel",
    "deliver",
    "docs_location",
    "bi_reads",
    "held_back",
    "held_back_batches",
    "last_publication",
    "load_channels",
    "record_publication",
    "report_freshness",
    "report_gate",
    "report_raw_gate",
    "report_run_late",
    "report_run_success",
    "report_source_freshness",
    "report_task_failure",
]
