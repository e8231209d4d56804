"""Where alerts go: Apprise URLs, from `TEALEAVES_ALERT_URLS` and from the email and Slack settings that came first.

`TEALEAVES_ALERT_URLS` takes any Apprise URL (email, Slack, Microsoft Teams, a JSON webhook, PagerDuty, ...).
The older settings keep working: `TEALEAVES_ALERT_SMTP_URL` with `_EMAIL_FROM`/`_EMAIL_TO`, and
`TEALEAVES_ALERT_SLACK_WEBHOOK_URL`, or inside Airflow the connections `tealeaves_smtp` and `tealeaves_slack`
(a variable wins over the connection field it overlaps). They are translated here into the Apprise URLs they
mean, so every alert takes one delivery path. A channel nobody configured is off, said once in the log; a
mistyped one is said once as an error and leaves the others working.
"""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from apprise import Apprise
from apprise.utils.parse import parse_urls

from tealeaves.alerts.delivery import ASSET, Channel, describe, quiet_apprise, secrets_of
from tealeaves.config import Settings

log = logging.getLogger(__name__)

SMTP_CONN_ID = "tealeaves_smtp"
SLACK_CONN_ID = "tealeaves_slack"
_TRUE = {"1", "true", "yes", "on"}
_said_off: set[str] = set()


@dataclass(frozen=True)
class ConnectionFields:
    """The parts of an Airflow connection a channel reads (kept free of Airflow types)."""

    host: str | None = None
    port: int | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    extra: dict[str, Any] = field(default_factory=dict)


ConnectionLookup = Callable[[str], ConnectionFields | None]


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
    for number, url in enumerate(parse_urls(settings.alert_urls or ""), start=1):
        try:
            channels.append(_channel(url, f"TEALEAVES_ALERT_URLS entry {number}", settings))
        except ValueError as error:
            log.error("alert channel not usable: %s", error)
    return channels


def _channel(url: str, setting: str, settings: Settings, name: str | None = None) -> Channel:
    """Check the URL once, here, so a mistake is said at start-up and not at the first failure."""
    with quiet_apprise() as said:
        plugin = Apprise.instantiate(url, asset=ASSET)
    if plugin is None:
        scheme = url.split("://", 1)[0] if "://" in url else "?"
        why = said.reason(secrets_of(None, url)) or "unknown service or missing part"
        raise ValueError(f"{setting} ({scheme}://…) is not a URL Apprise can send to: {why}; see docs/alerts.md")
    return describe(plugin, url, setting, settings.alert_timeout_seconds, name)


def _say_off(channel: str, why: str) -> None:
    if channel not in _said_off:
        _said_off.add(channel)
        log.info("%s alerts are off: %s (see docs/alerts.md)", channel, why)


def _email_channel(settings: Settings, lookup: ConnectionLookup) -> Channel | None:
    conn = lookup(SMTP_CONN_ID) or ConnectionFields()
    extra = conn.extra
    recipients = [
        address.strip()
        for address in (settings.alert_email_to or _as_text(extra.get("to")) or "").split(",")
        if address.strip()
    ]
    if settings.alert_smtp_url:
        server, setting = _parse_smtp_url(settings.alert_smtp_url), "TEALEAVES_ALERT_SMTP_URL"
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
        setting = f"the Airflow connection {SMTP_CONN_ID!r}"
    else:
        _say_off("email", f"neither TEALEAVES_ALERT_SMTP_URL nor an Airflow connection {SMTP_CONN_ID!r} is set")
        return None
    if not recipients:
        _say_off("email", "an SMTP server is set but no recipients: set TEALEAVES_ALERT_EMAIL_TO")
        return None
    sender = settings.alert_email_from or _as_text(extra.get("from_email")) or f"tealeaves@{socket.getfqdn()}"
    url = mailto_url(sender=sender, recipients=recipients, **server)
    return _channel(url, f"{setting} and that the server is reachable from this machine", settings, "email")


def mailto_url(
    host: str,
    port: int,
    sender: str,
    recipients: list[str],
    username: str | None = None,
    password: str | None = None,
    starttls: bool = False,
    tls: bool = False,
) -> str:
    """The Apprise email URL of an SMTP server: mailto:// in the clear, mailtos:// with STARTTLS or TLS.

    `smtp=` names the server outright, so Apprise applies none of its per-provider guesses to the host.
    """
    auth = ""
    if username:
        auth = quote(username, safe="") + (f":{quote(password, safe='')}" if password else "") + "@"
    netloc = f"{auth}[{host}]:{port}" if ":" in host else f"{auth}{host}:{port}"
    query = {"from": sender, "to": ",".join(recipients), "smtp": host}
    if tls or starttls:
        query["mode"] = "ssl" if tls else "starttls"
    return f"{'mailtos' if tls or starttls else 'mailto'}://{netloc}/?{urlencode(query)}"


def _slack_channel(settings: Settings, lookup: ConnectionLookup) -> Channel | None:
    url, setting = settings.alert_slack_webhook_url, "TEALEAVES_ALERT_SLACK_WEBHOOK_URL"
    if not url:
        conn = lookup(SLACK_CONN_ID)
        url, setting = _webhook_from_connection(conn) if conn else None, f"the Airflow connection {SLACK_CONN_ID!r}"
    if not url:
        _say_off(
            "slack", f"neither TEALEAVES_ALERT_SLACK_WEBHOOK_URL nor an Airflow connection {SLACK_CONN_ID!r} is set"
        )
        return None
    if not url.startswith(("http://", "https://")):
        raise ValueError(
            f"the Slack webhook must be an http(s) URL such as https://hooks.slack.com/services/T…/B…/…;"
            f" got one starting {url[:8]!r}"
        )
    # Apprise reads Slack's own webhook URL as it is (https://hooks.slack.com/services/T…/B…/…).
    hint = f"{setting}; 403/404 mean the webhook was revoked or mistyped: make a new one in the Slack app settings"
    return _channel(url, hint, settings, "slack")


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
