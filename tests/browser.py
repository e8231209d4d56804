"""A real browser for the tests of what people look at: Debian's Chromium, headless, driven by Playwright.

`make browser` installs Chromium (tools/install_chromium.sh); CHROMIUM names another build. Playwright's own
browser downloads are never used: the package drives the system's Chromium through `executable_path`.

`offline_page` opens a page with networking off, as on a machine with no internet, and records every request
that tried to leave the machine, so a test can assert that a page needs nothing from a CDN. Pages on 127.0.0.1
(a BI tool the tests started) go through `local_page`, which allows loopback and records everything else.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
# Without the background-networking switches Chromium keeps calling Google's hosts, which a closed network
# refuses; the sandbox needs user namespaces that a root process in a container may not have.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}


@dataclass
class PageLog:
    """What a page did besides rendering: requests that left the machine, console errors, page errors."""

    outside_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium per test process."""
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is not at {CHROMIUM}: run `make browser` (or set CHROMIUM)", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _watch(page, log: PageLog, allowed) -> None:
    def route(request_route) -> None:
        url = request_route.request.url
        if allowed(url):
            request_route.continue_()
        else:
            log.outside_requests.append(url)
            request_route.abort("internetdisconnected")

    page.route("**/*", route)
    page.on("console", lambda msg: log.console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda error: log.page_errors.append(str(error)))


@pytest.fixture
def offline_page(chromium) -> Iterator[tuple[object, PageLog]]:
    """A page in a fresh context with networking off: only file:// and data: URLs load."""
    context = chromium.new_context(offline=True, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    log = PageLog()
    _watch(page, log, lambda url: urlsplit(url).scheme in {"file", "data", "blob", "about"})
    yield page, log
    context.close()


@pytest.fixture
def local_page(chromium) -> Iterator[tuple[object, PageLog]]:
    """A page in a fresh context that may reach 127.0.0.1 only (a server the test started)."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    log = PageLog()

    def allowed(url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme in {"data", "blob", "about"} or parts.hostname in LOOPBACK

    _watch(page, log, allowed)
    yield page, log
    context.close()
