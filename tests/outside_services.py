"""Stand-ins for what lies outside tealeaves: a real SMTP server and an HTTP server answering as Slack's webhook.

Shared by the alert tests and the daily-DAG tests, which both read what the data team would receive.
"""

from __future__ import annotations

import email
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from tests.conftest import free_port


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


@contextmanager
def mail_server() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on 127.0.0.1: its inbox and port, for as long as the block runs."""
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


class SlackWebhook(ThreadingHTTPServer):
    """Answers like Slack's incoming webhook (200 "ok") and keeps each JSON payload posted to it."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        super().__init__(("127.0.0.1", 0), _SlackHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/services/T000/B000/secret"


class _SlackHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.payloads.append(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


@contextmanager
def slack_webhook() -> Iterator[SlackWebhook]:
    """The Slack stand-in, serving in a thread for as long as the block runs."""
    server = SlackWebhook()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def slack_text(payload: dict[str, Any]) -> str:
    """Everything a person sees in a Slack message: the notification text and every block."""
    parts = [payload["text"]]
    for block in payload.get("blocks", []):
        if "text" in block:
            parts.append(block["text"]["text"])
        parts += [element["text"] for element in block.get("elements", [])]
    return "\n".join(parts)


def plain(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()
