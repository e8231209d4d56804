"""A full-page PNG of a `tealeaves report --html` file, taken in headless Chromium with networking off.

    .venv/bin/tealeaves report --html /tmp/report.html
    .venv/bin/python tools/screenshot_report.py /tmp/report.html docs/images/report-html.png

The page is opened as finance would open the email attachment: no network, so a chart that needed a CDN would
show up missing. Uses the system Chromium the browser tests use (tests/browser.py; CHROMIUM names another).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path, help="the report file")
    parser.add_argument("png", type=Path, help="where to write the screenshot")
    parser.add_argument("--width", type=int, default=1240, help="viewport width in CSS pixels")
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(offline=True, viewport={"width": args.width, "height": 900})
        page = context.new_page()
        outside: list[str] = []

        def route(request_route) -> None:
            if urlsplit(request_route.request.url).scheme in {"file", "data", "blob", "about"}:
                request_route.continue_()
            else:
                outside.append(request_route.request.url)
                request_route.abort("internetdisconnected")

        page.route("**/*", route)
        page.goto(args.html.resolve().as_uri())
        page.wait_for_function("document.body.dataset.chartsRendered || document.body.dataset.chartsFailed")
        failed = page.evaluate("document.body.dataset.chartsFailed")
        page.screenshot(path=str(args.png), full_page=True)
        browser.close()
    if failed or outside:
        print(f"error: charts failed ({failed}) or the page reached for the network: {outside}", file=sys.stderr)
        return 1
    print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
