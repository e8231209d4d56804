"""Stand-ins for what lies outside tealeaves: a real SMTP server, and real HTTP servers answering as Slack's
incoming webhook, a Microsoft Teams (Power Automate) workflow and a generic JSON webhook.

Shared by the alert tests and the daily-DAG tests, which both read what the data team would receive. Alerts
leave through Apprise, unchanged; only where the requests land is made local:

- Slack: Apprise accepts a Slack webhook only in Slack's own form (https://hooks.slack.com/services/T…/B…/…
  or slack://T…/B…/…) and posts it to the class attribute `NotifySlack.webhook_url`, Slack's host. No URL form
  carries another host, so `slack_webhook()` points that one attribute at the stand-in for the block's
  duration and puts it back after: the URL tealeaves is given stays exactly what a user would paste.
- Teams: a workflows:// URL carries its host and port, but Apprise always speaks HTTPS to it. So
  `teams_workflow()` serves real TLS with a certificate made for 127.0.0.1, and trusts it through
  REQUESTS_CA_BUNDLE for the block: certificates are verified as they would be against Microsoft. The SMTP
  server does the same for STARTTLS and SMTPS (SSL_CERT_FILE).
- JSON webhook: json:// carries host and port and speaks plain HTTP: nothing to redirect.
"""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import json
import os
import ssl
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.conftest import free_port

# Secrets of the stand-ins' URLs: tests assert that none of them reaches a log line or an error message.
SLACK_TOKEN = "XXsecretSlackToken42"
TEAMS_SIGNATURE = "XXsecretTeamsSig42"
TEAMS_WORKFLOW = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
WEBHOOK_TOKEN = "XXsecretHookToken42"


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts, and every login it accepted."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        """The messages addressed to one recipient (each recipient gets a message of its own)."""
        return [message for message in self.messages if message["To"] == address]


@contextmanager
def mail_server(security: str | None = None, login: tuple[str, str] | None = None) -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on 127.0.0.1: its inbox and port, for as long as the block runs.

    `security` "starttls" requires STARTTLS before anything else, "tls" speaks TLS from the first byte (SMTPS);
    either way the server's certificate is made for 127.0.0.1 and trusted for the block (SSL_CERT_FILE, read
    by Python's default TLS context), so clients verify it as they would a real server's. With `login`, the
    server accepts that user and password only, and only over TLS.
    """
    inbox, port = Inbox(), free_port()
    options: dict[str, Any] = {}
    if login:
        # aiosmtpd counts only STARTTLS as TLS for AUTH; under SMTPS every byte is encrypted anyway.
        options.update(authenticator=_Authenticator(inbox, login), auth_require_tls=security != "tls")
    with tempfile.TemporaryDirectory() as folder:
        if security:
            cert, key = _certificate_for_localhost(Path(folder))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            options.update(
                {"tls_context": context, "require_starttls": True}
                if security == "starttls"
                else {"ssl_context": context}
            )
        # aiosmtpd's 5 s for its thread to start serving and answer its own first connection is short for a
        # loaded machine; it is only the limit of a wait that normally ends at once
        controller = Controller(inbox, hostname="127.0.0.1", port=port, ready_timeout=60, **options)
        controller.start()
        try:
            with _trusting("SSL_CERT_FILE", cert if security else None):
                yield inbox, port
        finally:
            controller.stop()


class _Authenticator:
    def __init__(self, inbox: Inbox, login: tuple[str, str]) -> None:
        self.inbox, self.login = inbox, login

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        given = (auth_data.login.decode(), auth_data.password.decode())
        if given != self.login:
            return AuthResult(success=False, handled=False)
        self.inbox.logins.append(given)
        return AuthResult(success=True)


@contextmanager
def _trusting(variable: str, cert: Path | None) -> Iterator[None]:
    """Trust `cert` through the environment variable a TLS client reads, for the block only."""
    before = os.environ.get(variable)
    if cert is not None:
        os.environ[variable] = str(cert)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(variable, None)
        else:
            os.environ[variable] = before


class WebHook(ThreadingHTTPServer):
    """Answers every POST with `status` and keeps each JSON payload, and the path and query it came to."""

    def __init__(self, status: int = 200, answer: bytes = b"ok") -> None:
        self.status, self.answer = status, answer
        self.payloads: list[dict[str, Any]] = []
        self.requests: list[tuple[str, dict[str, list[str]]]] = []  # (path, query) of each POST
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def port(self) -> int:
        return self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        parts = urlsplit(self.path)
        self.server.requests.append((parts.path, parse_qs(parts.query)))
        self.server.payloads.append(json.loads(body))
        self.send_response(self.server.status)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(self.server.answer)

    def log_message(self, *args) -> None:
        pass


@contextmanager
def _serving(server: WebHook) -> Iterator[WebHook]:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


class SlackWebhook(WebHook):
    @property
    def url(self) -> str:
        """The incoming-webhook URL as Slack hands it out (see the module docstring for where it lands)."""
        return f"https://hooks.slack.com/services/T000/B000/{SLACK_TOKEN}"


@contextmanager
def slack_webhook(status: int = 200, answer: bytes = b"ok") -> Iterator[SlackWebhook]:
    """The Slack stand-in, serving in a thread; Apprise's Slack host points at it for as long as the block runs."""
    from apprise.plugins.slack import NotifySlack

    with _serving(SlackWebhook(status, answer)) as server:
        slack_host = NotifySlack.webhook_url
        NotifySlack.webhook_url = f"http://127.0.0.1:{server.port}/services"
        try:
            yield server
        finally:
            NotifySlack.webhook_url = slack_host


class TeamsWorkflow(WebHook):
    @property
    def url(self) -> str:
        """A workflows:// URL, as docs/alerts.md tells users to write one, with this server as its host."""
        return f"workflows://127.0.0.1:{self.port}/{TEAMS_WORKFLOW}/{TEAMS_SIGNATURE}/"


@contextmanager
def teams_workflow(status: int = 202) -> Iterator[TeamsWorkflow]:
    """The Teams stand-in over TLS (Power Automate answers 202 Accepted), its certificate trusted for the block."""
    with tempfile.TemporaryDirectory() as folder:
        cert, key = _certificate_for_localhost(Path(folder))
        server = TeamsWorkflow(status, b"")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        with _trusting("REQUESTS_CA_BUNDLE", cert), _serving(server):
            yield server


class JsonWebhook(WebHook):
    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hooks/{WEBHOOK_TOKEN}"


@contextmanager
def json_webhook(status: int = 200) -> Iterator[JsonWebhook]:
    """A generic JSON webhook receiver (an incident tool, a ticket system) over plain HTTP."""
    with _serving(JsonWebhook(status)) as server:
        yield server


def _certificate_for_localhost(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made for this test run only."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert, private = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert, private


def slack_text(payload: dict[str, Any]) -> str:
    """Everything a person sees in a Slack message, by Slack's documented payload fields: `text`, `blocks`,
    and each attachment's `title`, `text` and `blocks`."""
    parts, blocks = [payload.get("text", "")], list(payload.get("blocks", []))
    for attachment in payload.get("attachments", []):
        parts += [attachment.get("title", ""), attachment.get("text", "")]
        blocks += attachment.get("blocks", [])
    for block in blocks:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts += [element["text"] for element in block.get("elements", []) if "text" in element]
    return "\n".join(part for part in parts if part)


def teams_text(payload: dict[str, Any]) -> str:
    """The text of every TextBlock of the Adaptive Cards in a Teams workflow payload."""
    return "\n".join(
        element["text"]
        for attachment in payload["attachments"]
        for element in attachment["content"]["body"]
        if element["type"] == "TextBlock"
    )


def plain(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()
