"""The quality gate's Data Docs open without internet: styled, scripted, with their icons, from file:// anywhere.

GX's templates load their stylesheets, scripts and fonts from public CDNs; offline those pages were blank and
unstyled. The docs here are written by `run_gate` as the gate writes them (the project's suite for
fct_acquisition_cost on a small table with one refund booked as negative spend) and opened in Chromium with
networking off.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tealeaves.quality.data_docs import ASSETS_DIR
from tealeaves.quality.gate import run_gate
from tests.acquisition_cost_table import GOOD_ROWS, SUITE, SUITE_FILE, TABLE_DDL

RUN_ID = f"docs__{uuid.uuid4().hex[:8]}"
# A page loads what these name; <a href> links are clicked, not loaded.
LOADING_TAG = re.compile(r"<(?:script|link|img)\b[^>]*\b(?:src|href)=\"(https?://[^\"]*)\"", re.IGNORECASE)
CSS_URL = re.compile(r"url\(['\"]?(https?://[^'\")]*)")


@pytest.fixture(scope="module")
def data_docs(warehouse_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    schema = f"docs_{uuid.uuid4().hex[:10]}"
    suites = tmp_path_factory.mktemp("suites")
    shutil.copy(SUITE_FILE, suites / SUITE_FILE.name)
    docs = tmp_path_factory.mktemp("run") / "data_docs"
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL(TABLE_DDL).format(sql.Identifier(schema)))
        with conn.cursor() as cur:
            cur.executemany(
                sql.SQL("insert into {}.fct_acquisition_cost values (%s, %s, %s, %s, %s)").format(
                    sql.Identifier(schema)
                ),
                [*GOOD_ROWS, ("2024-03-01", "affiliates", "-25.00", 0, None)],
            )
    try:
        result = run_gate(warehouse_url, schema, RUN_ID, suites_dir=suites, docs_dir=docs)
        assert not result.passed, "the refund row must fail the suite, so the docs show a failed run"
        yield docs
    finally:
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            conn.execute(sql.SQL("drop schema {} cascade").format(sql.Identifier(schema)))


def open_offline(page, path: Path) -> dict:
    """Load `path` and report what rendered: Bootstrap's styles, the fonts that loaded, the visible text."""
    page.goto(path.as_uri(), wait_until="load")
    return page.evaluate(
        """async () => {
            await document.fonts.ready;
            const style = (selector) => {
                const element = document.querySelector(selector);
                return element ? getComputedStyle(element) : null;
            };
            return {
                navbar_display: style('.navbar')?.display,
                body_font: style('body').fontFamily,
                loaded_fonts: [...document.fonts].filter(f => f.status === 'loaded').map(f => f.family),
                failed_fonts: [...document.fonts].filter(f => f.status === 'error').map(f => f.family),
                text: document.body.innerText,
            };
        }"""
    )


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_the_index_page_is_styled_and_lists_the_run_offline(data_docs, offline_page, color_scheme):
    page, log = offline_page
    page.emulate_media(color_scheme=color_scheme)  # dark mode swaps GX's logo for one from its web bucket

    shown = open_offline(page, data_docs / "index.html")

    assert log.outside_requests == []
    assert log.page_errors == [] and log.console_errors == []
    assert shown["navbar_display"] == "flex", "Bootstrap's .navbar style applies (a bare <nav> is a block)"
    assert "-apple-system" in shown["body_font"], "Bootstrap's font stack, not the browser's serif"
    assert "Font Awesome 6 Free" in shown["loaded_fonts"] and shown["failed_fonts"] == []
    # bootstrap-table fills the tables from data in the page: the suite and the run appear only if jQuery and it ran
    assert SUITE in shown["text"] and RUN_ID in shown["text"]


def test_a_validation_page_shows_the_failed_expectation_offline_from_a_copy_elsewhere(
    data_docs, offline_page, tmp_path
):
    copy = shutil.copytree(data_docs, tmp_path / "moved" / "docs")  # as someone copies the folder to share it
    [result_page] = (copy / "validations" / SUITE).rglob("*.html")
    page, log = offline_page

    shown = open_offline(page, result_page)

    assert log.outside_requests == []
    assert log.page_errors == [] and log.console_errors == []
    assert shown["navbar_display"] == "flex"
    assert "Font Awesome 6 Free" in shown["loaded_fonts"] and shown["failed_fonts"] == []
    assert "Spend is never negative" in shown["text"] and RUN_ID in shown["text"]


def test_no_page_of_the_site_loads_anything_from_outside(data_docs):
    pages = sorted(data_docs.rglob("*.html"))
    assert {p.relative_to(data_docs).parts[0] for p in pages} == {"index.html", "expectations", "validations"}

    outside = {
        str(p.relative_to(data_docs)): LOADING_TAG.findall(text) + CSS_URL.findall(text)
        for p in pages
        for text in [p.read_text(encoding="utf-8")]
    }

    assert outside == {str(p.relative_to(data_docs)): [] for p in pages}


def test_the_vendored_files_are_the_ones_their_readme_records():
    """The README's sha256 list was made from the npm tarballs (tools/vendor_data_docs_assets.py)."""
    readme = (ASSETS_DIR / "README.md").read_text(encoding="utf-8")
    recorded = dict(
        (path, digest) for digest, path in re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, flags=re.MULTILINE)
    )
    written_by_hand = {"README.md", "LICENSE.md"}

    present = {
        p.relative_to(ASSETS_DIR).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in ASSETS_DIR.rglob("*")
        if p.is_file() and p.name not in written_by_hand
    }

    assert len(recorded) > 20
    assert present == recorded
    unlicensed = [d.name for d in ASSETS_DIR.iterdir() if d.is_dir() and not list(d.glob("LICENSE*"))]
    assert unlicensed == [], "each vendored package keeps its licence"


def relative_luminance(red: int, green: int, blue: int) -> float:
    """WCAG 2's relative luminance of an sRGB colour."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_the_logos_lettering_stands_out_from_the_navbar_in_either_color_scheme(data_docs, offline_page, color_scheme):
    """GX ships no dark logo: its dark theme showed the light one, black lettering on a near-black navbar. The
    logo as drawn is photographed; in its lettering (right of the mascot) enough pixels must reach WCAG's 4.5:1
    contrast against the navbar's own colour, the most common one there."""
    page, log = offline_page
    page.emulate_media(color_scheme=color_scheme)
    page.goto((data_docs / "index.html").as_uri(), wait_until="load")
    shot = base64.b64encode(page.locator(".navbar-brand a").screenshot()).decode()
    # a data: image does not taint a canvas, so the page can read the photograph's pixels back
    width, pixels = page.evaluate(
        """async (png) => {
            const image = new Image();
            image.src = 'data:image/png;base64,' + png;
            await image.decode();
            const canvas = Object.assign(document.createElement('canvas'), {width: image.width, height: image.height});
            const context = canvas.getContext('2d');
            context.drawImage(image, 0, 0);
            return [image.width, Array.from(context.getImageData(0, 0, image.width, image.height).data)];
        }""",
        shot,
    )
    assert log.outside_requests == [] and log.page_errors == []
    colours = [tuple(pixels[i : i + 3]) for i in range(0, len(pixels), 4)]
    lettering = [c for i, c in enumerate(colours) if i % width > width * 0.3]
    navbar = relative_luminance(*Counter(lettering).most_common(1)[0][0])
    ink = [
        c for c in lettering if (max(navbar, lum := relative_luminance(*c)) + 0.05) / (min(navbar, lum) + 0.05) >= 4.5
    ]
    assert len(ink) / len(lettering) > 0.03, f"{len(ink)} of {len(lettering)} pixels stand out"
