"""Send one alert to every channel through Apprise, and say in one line, without secrets, what did not arrive.

Delivery never raises: a channel that cannot deliver logs why and what to check, and the next channel still
gets its turn, because the person on call must hear about the failure through whatever still works.

Apprise logs as it works, and some of its lines (and urllib3's, underneath) carry request URLs, whose paths
are webhook tokens. So nothing Apprise logs while tealeaves sends is passed on: its words are collected,
every secret of that channel's URL is masked in them, and tealeaves logs the result as its own single line.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

from apprise import Apprise, AppriseAsset, NotifyFormat, NotifyType
from apprise.plugins.base import NotifyBase
from apprise.plugins.email import NotifyEmail

from tealeaves.alerts.message import Alert

log = logging.getLogger(__name__)

# No icons: they would be fetched by every reader's client from Apprise's image host, and add nothing the
# coloured circle of the text does not already say.
ASSET = AppriseAsset(app_id="tealeaves", app_desc="tealeaves alerts", image_url_mask=None)
_TYPE = {"failing": NotifyType.FAILURE, "reminder": NotifyType.WARNING, "recovered": NotifyType.SUCCESS}
_BODY: dict[NotifyFormat, Callable[[Alert], str]] = {
    NotifyFormat.HTML: Alert.html,  # email: Apprise adds the plain-text part from it
    NotifyFormat.MARKDOWN: Alert.markdown,  # Slack (turned into its mrkdwn by Apprise), Teams, ...
    NotifyFormat.TEXT: Alert.text,  # JSON webhooks, PagerDuty, Discord, SMS, ...
}
_NAMES = {"mailto": "email", "slack": "slack", "workflow": "teams", "json": "webhook"}


@dataclass(frozen=True)
class Channel:
    """One destination: its Apprise URL (secret), and what a log line may say about it."""

    name: str  # in Delivery records: email, slack, teams, webhook, or the Apprise scheme
    where: str  # the service and its host, never a token: "SMTP server smtp.example.com:587"
    check: str  # what to check when it fails: the setting it came from
    url: str = field(repr=False)
    secrets: tuple[str, ...] = field(default=(), repr=False)
    timeout: float = 10.0


@dataclass(frozen=True)
class Delivery:
    channel: str
    ok: bool
    error: str | None = None


def describe(plugin: NotifyBase, url: str, check: str, timeout: float, name: str | None = None) -> Channel:
    protocols = plugin.protocol or plugin.secure_protocol
    scheme = protocols if isinstance(protocols, str) else protocols[0]
    if isinstance(plugin, NotifyEmail):
        where = f"SMTP server {plugin.smtp_host}:{plugin.port}"
    elif "host" in plugin.template_tokens and not plugin.template_tokens["host"].get("private") and plugin.host:
        where = f"{plugin.service_name} on {plugin.host}" + (f":{plugin.port}" if plugin.port else "")
    else:  # the "host" of slack://, discord://, ... is a token
        where = str(plugin.service_name)
    return Channel(name or _NAMES.get(scheme, scheme), where, check, url, secrets_of(plugin, url), timeout)


def secrets_of(plugin: NotifyBase | None, url: str) -> tuple[str, ...]:
    """What must never be shown: the password, the tokens Apprise marks private, and for web hooks every part
    of the path and query (a webhook URL is a secret as a whole; an email's path holds only addresses). For a
    URL Apprise could not load, every part of it but the scheme."""
    parts = urlsplit(url)
    found = {parts.password, unquote(parts.password)} if parts.password else set()
    tokens = {**plugin.template_tokens, **plugin.template_args} if plugin else {}
    for key, token in tokens.items():
        value = getattr(plugin, token.get("map_to", key), None) if token.get("private") else None
        if isinstance(value, str) and len(value) >= 3:
            found.add(value)
    if not isinstance(plugin, NotifyEmail):
        words = [*parts.path.split("/"), *(v for vs in parse_qs(parts.query).values() for v in vs)]
        words.append(parts.netloc.rpartition("@")[0].partition(":")[0])  # pagerduty://KEY@…: a key, not a user
        if plugin is None:
            words.append(parts.netloc.rpartition("@")[2])
        found |= {w for word in words for w in (word, unquote(word)) if len(w) >= 6}
    return tuple(sorted(found, key=len, reverse=True))


def deliver(alert: Alert, channels: Sequence[Channel]) -> list[Delivery]:
    """Send through every channel; a failure is logged and recorded, never raised, never stops the next."""
    deliveries = []
    for channel in channels:
        why = _send(alert, channel)
        if why is None:
            log.info("alert %s (%s) sent via %s", alert.key, alert.kind, channel.name)
            deliveries.append(Delivery(channel.name, True))
        else:
            line = f"{channel.where}: {why}. Check {channel.check}."
            log.error("alert %s (%s) via %s failed: %s", alert.key, alert.kind, channel.name, line)
            deliveries.append(Delivery(channel.name, False, line))
    if not channels:
        log.warning(
            "alert %s (%s) not sent: no alert channel is configured (see docs/alerts.md)", alert.key, alert.kind
        )
    return deliveries


def _send(alert: Alert, channel: Channel) -> str | None:
    """None once delivered; otherwise why not, with the channel's secrets masked."""
    with quiet_apprise() as said:
        try:
            plugin = Apprise.instantiate(channel.url, asset=ASSET, suppress_exceptions=False)
            if plugin is None:
                return said.reason(channel.secrets) or "Apprise could not load the URL"
            given = parse_qs(urlsplit(channel.url).query)
            if "cto" not in given:
                plugin.socket_connect_timeout = channel.timeout
            if "rto" not in given:
                plugin.socket_read_timeout = channel.timeout
            if isinstance(plugin, NotifyEmail):
                plugin.headers["X-Tealeaves-Alert"] = f"{alert.key}; {alert.kind}"
            form = plugin.resolve_format()
            sent = plugin.notify(
                body=_BODY[form](alert), title=alert.title, notify_type=_TYPE[alert.kind], body_format=form
            )
        except Exception as error:  # noqa: BLE001 - any failure of one channel must leave the others working
            said.lines.append(f"{type(error).__name__}: {error}")
            sent = False
    return None if sent else said.reason(channel.secrets) or "Apprise gave no reason"


@dataclass
class _Said:
    """What Apprise said while one channel was loaded or sent, in this thread."""

    lines: list[str] = field(default_factory=list)

    def reason(self, secrets: Sequence[str]) -> str:
        text = "; ".join(dict.fromkeys(line.strip().rstrip(".") for line in self.lines if line.strip()))
        for secret in secrets:
            text = text.replace(secret, "***")
        return text


_speaking = threading.local()


@contextmanager
def quiet_apprise() -> Iterator[_Said]:
    """Collect Apprise's words in this thread instead of logging them; HTTP client logs are dropped meanwhile."""
    said = _Said()
    _speaking.said = said
    try:
        yield said
    finally:
        _speaking.said = None


class _Collect(logging.Filter):
    """On Apprise's logger: while a channel sends in this thread, its records are kept for the one line and
    go no further, whatever handlers are attached; at other times its warnings pass as usual."""

    def filter(self, record: logging.LogRecord) -> bool:
        said = getattr(_speaking, "said", None)
        if said is None:
            return record.levelno >= logging.WARNING
        # Apprise's warnings say what failed; its debug lines carrying "Exception" say the underlying error.
        if record.levelno >= logging.WARNING or "Exception" in record.getMessage():
            said.lines.append(record.getMessage())
        return False


class _NotWhileSending(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(_speaking, "said", None) is None


# Logger filters, not handlers or propagation: a filter on the logger itself runs before every handler, also
# those attached straight to it (as test runners and log shippers do with non-propagating loggers).
_apprise_log = logging.getLogger("apprise")
_apprise_log.setLevel(logging.DEBUG)  # the debug lines carry the underlying errors; the filter keeps them in
_apprise_log.addFilter(_Collect())
for _name in ("urllib3.connectionpool", "urllib3.poolmanager", "urllib3.util.retry", "urllib3.connection"):
    logging.getLogger(_name).addFilter(_NotWhileSending())  # they log request paths: webhook tokens
