"""The container stack publishes every port on the host's loopback only (docs/security.md: nothing listens beyond
127.0.0.1 unless configured). Read from docker-compose.yml itself, as `docker compose` would, with the defaults of
its ${VARIABLE:-default} forms."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def _with_defaults(text: str) -> str:
    return re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", text)


def published_ports() -> dict[str, list[str]]:
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    return {
        name: [_with_defaults(str(port)) for port in service.get("ports", [])]
        for name, service in services.items()
        if service.get("ports")
    }


def test_every_published_port_is_bound_to_loopback():
    ports = published_ports()
    assert ports, "the stack publishes no port at all: this test would prove nothing"
    open_to_all = {name: p for name, entries in ports.items() for p in entries if not p.startswith("127.0.0.1:")}
    assert open_to_all == {}


def test_superset_and_metabase_are_published_and_on_loopback():
    """The BI services are the ones a person opens in a browser: both must be among the ports checked above."""
    ports = published_ports()
    assert {"superset", "metabase"} <= set(ports)
    assert all(port.startswith("127.0.0.1:") for port in ports["superset"] + ports["metabase"])
