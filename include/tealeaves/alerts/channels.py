"""Where alerts go: email over SMTP and Slack through an incoming webhook.

Each channel is configured by `TEALEAVES_ALERT_*` variables or, inside Airflow, by the connections
`tealeaves_smtp` and `tealeaves_slack`; a variable wins over the connection field it overlaps. A channel
nobody configured is off, which is said once in the log and is not an error: a laptop run has no SMTP.

Delivery never raises: a channel that cannot deliver logs why and what to check, and the next channel
still gets its turn, because the person on call must hear about the failure through whatever still works.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from tealeaves.alerts.message import Alert
from tealeaves.config import Settings

log = logging.getLogger(__name__)

SMTP_CONN_ID = "tealeaves_smtp"
SLACK_CONN_ID = "tealeaves_slack"
_TRUE = {"1", "true", "yes", "on"}
_said_off: set[str] = set()


class ChannelError(RuntimeError):
    """A channel could not deliver; the message says where it tried and what to check."""


@dataclass(frozen=True)
class ConnectionFields:
    """The parts of an Airflow connection a channel reads (kept free of Airflow types)."""

    host: str | None = None
    port: int | None = None
    login: str | None = None
    password: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


ConnectionLookup = Callable[[str], ConnectionFields | None]


class Channel(Protocol):
    name: str

    def send(self, alert: Alert) -> None: ...


@dataclass(frozen=True)
class Delivery:
    channel: str
    ok: bool
    error: str | None = None


@dataclass(frozen=True)
class EmailChannel:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    tls: bool = False  # smtps: TLS from the first byte
    timeout: float = 10.0
    name: str = "email"

    def send(self, alert: Alert) -> None:
        message = EmailMessage()
        message["Subject"] = alert.title
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = make_msgid(domain="tealeaves")
        message["X-Tealeaves-Alert"] = f"{alert.key}; {alert.kind}"
        message.set_content(alert.text())
        message.add_alternative(alert.html(), subtype="html")
        where = f"SMTP server {self.host}:{self.port}"
        try:
            smtp_class = smtplib.SMTP_SSL if self.tls else smtplib.SMTP
            with smtp_class(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                refused = smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            raise ChannelError(
                f"email to {', '.join(self.recipients)} not sent: {where} said {type(error).__name__}: {error}."
                f" Check TEALEAVES_ALERT_SMTP_URL (or the Airflow connection {SMTP_CONN_ID!r}) and that the"
                " server is reachable from this machine."
            ) from error
        if refused:
            log.error("email alert %s: %s refused recipients %s", alert.key, where, sorted(refused))


@dataclass(frozen=True)
class SlackChannel:
    webhook_url: str = field(repr=False)
    timeout: float = 10.0
    name: str = "slack"

    def send(self, alert: Alert) -> None:
        where = f"Slack webhook on {urlsplit(self.webhook_url).netloc}"  # the path is the secret: never logged
        try:
            response = httpx.post(self.webhook_url, json=alert.slack(), timeout=self.timeout)
        except httpx.HTTPError as error:
            raise ChannelError(
                f"Slack message not sent: {where} unreachable ({type(error).__name__}: {error})."
                f" Check TEALEAVES_ALERT_SLACK_WEBHOOK_URL (or the Airflow connection {SLACK_CONN_ID!r})."
            ) from error
        if response.status_code >= 300:
            raise ChannelError(
                f"Slack message not sent: {where} answered {response.status_code} {response.text[:200]!r}."
                " 403/404 mean the webhook was revoked or mistyped: make a new one in the Slack app settings."
            )


def load_channels(settings: Settings, connection: ConnectionLookup | None = None) -> list[Channel]:
    """The configured channels; `connection` looks up Airflow connections (default: Airflow's, if loaded)."""
    lookup = connection or airflow_connection
    channels: list[Channel] = []
    for build in (_email_channel, _slack_channel):
        try:
            channel = build(settings, lookup)
        except ValueError as error:  # a mistyped setting turns off its channel, never the other one
            log.error("alert channel not usable: %s", error)
            continue
        if channel is not None:
            channels.append(channel)
    return channels


def deliver(alert: Alert, channels: Sequence[Channel]) -> list[Delivery]:
    """Send through every channel; a failure is logged and recorded, never raised, never stops the next."""
    deliveries = []
    for channel in channels:
        try:
            channel.send(alert)
        except Exception as error:  # noqa: BLE001 - any failure of one channel must leave the others working
            log.error("alert %s (%s) via %s failed: %s", alert.key, alert.kind, channel.name, error)
            deliveries.append(Delivery(channel.name, False, str(error)))
        else:
            log.info("alert %s (%s) sent via %s", alert.key, alert.kind, channel.name)
            deliveries.append(Delivery(channel.name, True))
    if not channels:
        log.warning(
            "alert %s (%s) not sent: no alert channel is configured (see docs/alerts.md)", alert.key, alert.kind
        )
    return deliveries


def _say_off(channel: str, why: str) -> None:
    if channel not in _said_off:
        _said_off.add(channel)
        log.info("%s alerts are off: %s (see docs/alerts.md)", channel, why)


def _email_channel(settings: Settings, lookup: ConnectionLookup) -> EmailChannel | None:
    conn = lookup(SMTP_CONN_ID) or ConnectionFields()
    extra = conn.extra
    recipients = tuple(
        address.strip()
        for address in (settings.alert_email_to or _as_text(extra.get("to")) or "").split(",")
        if address.strip()
    )
    if settings.alert_smtp_url:
        server = _parse_smtp_url(settings.alert_smtp_url)
    elif conn.host:
        tls = _flag(extra.get("ssl")) or conn.port == 465
        server = {
            "host": conn.host,
            "port": conn.port or (465 if tls else 25),
            "username": conn.login or None,
            "password": conn.password or None,
            "starttls": _flag(extra.get("starttls")),
            "tls": tls,
        }
    else:
        _say_off("email", f"neither TEALEAVES_ALERT_SMTP_URL nor an Airflow connection {SMTP_CONN_ID!r} is set")
        return None
    if not recipients:
        _say_off("email", "an SMTP server is set but no recipients: set TEALEAVES_ALERT_EMAIL_TO")
        return None
    sender = settings.alert_email_from or _as_text(extra.get("from_email")) or f"tealeaves@{socket.getfqdn()}"
    return EmailChannel(sender=sender, recipients=recipients, timeout=settings.alert_timeout_seconds, **server)


def _slack_channel(settings: Settings, lookup: ConnectionLookup) -> SlackChannel | None:
    url = settings.alert_slack_webhook_url
    if not url:
        conn = lookup(SLACK_CONN_ID)
        url = _webhook_from_connection(conn) if conn else None
    if not url:
        _say_off(
            "slack", f"neither TEALEAVES_ALERT_SLACK_WEBHOOK_URL nor an Airflow connection {SLACK_CONN_ID!r} is set"
        )
        return None
    if not url.startswith(("http://", "https://")):
        raise ValueError(
            f"the Slack webhook must be an http(s) URL such as https://hooks.slack.com/services/T…/B…/…;"
            f" got one starting {url[:12]!r}"
        )
    return SlackChannel(webhook_url=url, timeout=settings.alert_timeout_seconds)


def _webhook_from_connection(conn: ConnectionFields) -> str | None:
    """Accept the shapes people use: the whole URL in password or host, or host + token path in password."""
    password, host = conn.password or "", conn.host or ""
    if password.startswith(("http://", "https://")):
        return password
    if host and password:
        base = host if host.startswith(("http://", "https://")) else f"https://{host}"
        return base.rstrip("/") + "/" + password.lstrip("/")
    if host.startswith(("http://", "https://")):
        return host
    return None


def _parse_smtp_url(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(
            "TEALEAVES_ALERT_SMTP_URL must look like smtp://user:password@host:587?starttls=true"
            f" or smtps://user:password@host:465; got scheme {parts.scheme!r}"
        )
    query = parse_qs(parts.query)
    tls = parts.scheme == "smtps"
    return {
        "host": parts.hostname,
        "port": parts.port or (465 if tls else 25),
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "starttls": _flag(query.get("starttls", [""])[0]),
        "tls": tls,
    }


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() in _TRUE


def _as_text(value: Any) -> str | None:
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return str(value) if value else None


def airflow_connection(conn_id: str) -> ConnectionFields | None:
    """An Airflow connection, when running inside Airflow; None elsewhere or when it is not defined.

    Only looks when Airflow's SDK is already imported, so the CLI never pays for importing Airflow.
    """
    if "airflow.sdk" not in sys.modules:
        return None
    try:
        from airflow.sdk import Connection

        conn = Connection.get(conn_id)
    except Exception as error:  # noqa: BLE001 - "not defined" has several exception types across versions
        log.debug("Airflow connection %s not available: %s", conn_id, error)
        return None
    return ConnectionFields(
        host=conn.host,
        port=conn.port,
        login=conn.login,
        password=conn.password,
        extra=conn.extra_dejson if conn.extra else {},
    )
