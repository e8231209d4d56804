"""GX Data Docs that open without internet: the stylesheets, scripts and fonts they load come with the site.

GX 1.x's page templates load bootstrap, jQuery, bootstrap-table, vega and Font Awesome from public CDNs, and its
logo from GX's web bucket: on a machine with no internet the pages render blank and unstyled. GX has no setting
for those URLs. A site's custom views folder is searched after GX's own templates (a template of the same name
never wins), and a custom view class would mean copying GX's page templates, to drift from them at every
upgrade. So once GX has built the site, `make_offline` copies the npm builds vendored in `docs_assets/` into it
and points each page at them by relative URL: the folder works from file://, wherever it is copied.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

ASSETS_DIR = Path(__file__).parent / "docs_assets"
SITE_ASSETS = "static/vendor"  # where the vendored folders go inside a Data Docs site

# Every URL that GX's templates load → the same file from that package and version on npm, under ASSETS_DIR.
# `vega@5` and the like name a major version only; the CDN serves the newest release of it (vendored as of
# 2026-12, its package.json `jsdelivr` file). Popper's and bootstrap's builds match the templates' integrity hashes.
CDN_FILES: dict[str, str] = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        "bootstrap-4.3.1/dist/css/bootstrap.min.css"
    ),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
        "bootstrap-4.3.1/dist/js/bootstrap.min.js"
    ),
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery-3.7.1/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": (
        "popper.js-1.12.9/dist/umd/popper.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
        "bootstrap-table-1.19.1/dist/bootstrap-table.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
        "bootstrap-table-1.19.1/dist/bootstrap-table.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
        "bootstrap-table-1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": (
        "bootstrap-table-1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
        "bootstrap-table-1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker-1.9.0/dist/css/bootstrap-datepicker.min.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker-1.9.0/dist/js/bootstrap-datepicker.min.js"
    ),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "forevolve-bootstrap-dark-1.1.0/dist/css/bootstrap-prefers-dark.css"
    ),
    # its CSS loads ../webfonts/*.woff2, vendored beside it
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "fontawesome-free-6.6.0/css/all.min.css"
    ),
    "https://cdn.jsdelivr.net/npm/vega@5": "vega-5.33.1/build/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite-5.23.0/build/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed-6.29.0/build/vega-embed.min.js",
}

# GX's logo comes from its web bucket although GX also writes it into the site's static/images; the dark-mode
# logo GX does not ship, so dark mode shows the same one, black lettering on GX's dark navbar: DARK_LOGO inverts it
# there (white lettering; the logo is black and white, so nothing else changes).
GX_WEB_ASSETS = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
GX_IMAGES = {"logo-long.png": "logo-long.png", "full_logo_dark.png": "logo-long.png"}
DARK_LOGO = (
    '<style id="tealeaves-dark-logo">'
    "@media (prefers-color-scheme: dark) { .navbar-brand a { filter: invert(1); } }"
    "</style>"
)

_TAG = re.compile(r"<(?:script|link|img)\b[^>]*>", re.IGNORECASE)
_URL_ATTRIBUTE = re.compile(r'\b(?:src|href)="([^"]*)"')
# An integrity hash names the CDN's copy, and `crossorigin` asks for a CORS fetch, which a file:// page refuses.
_CDN_ONLY_ATTRIBUTES = re.compile(r'\s+(?:integrity|crossorigin)="[^"]*"')
_CSS_URL = re.compile(r"""url\((['"]?)(https?://[^'")]+)\1\)""")


def make_offline(site: Path) -> None:
    """Copy the vendored assets into the Data Docs `site` and point every page at them instead of the internet."""
    shutil.copytree(ASSETS_DIR, site / SITE_ASSETS, dirs_exist_ok=True, ignore=shutil.ignore_patterns("README.md"))
    for page in site.rglob("*.html"):
        root = Path(os.path.relpath(site, page.parent)).as_posix()
        html = page.read_text(encoding="utf-8")
        local = legible_dark_logo(local_assets(html, root))
        if local != html:
            page.write_text(local, encoding="utf-8")


def local_assets(html: str, root: str) -> str:
    """`html` with each asset it loads from a known CDN taken from the site instead; `root` is the site's folder
    relative to the page ("." for index.html). Links a reader clicks (GX's own documentation) stay as they are."""

    def tag(match: re.Match[str]) -> str:
        text = match.group(0)
        attribute = _URL_ATTRIBUTE.search(text)
        local = _local_url(attribute.group(1), root) if attribute else None
        if attribute is None or local is None:
            return text
        text = text[: attribute.start(1)] + local + text[attribute.end(1) :]
        return _CDN_ONLY_ATTRIBUTES.sub("", text)

    def css_url(match: re.Match[str]) -> str:
        local = _local_url(match.group(2), root)
        return match.group(0) if local is None else f"url({match.group(1)}{local}{match.group(1)})"

    return _CSS_URL.sub(css_url, _TAG.sub(tag, html))


def legible_dark_logo(html: str) -> str:
    """`html` with DARK_LOGO at the end of its <head> (once: a site is made offline after every gate run)."""
    if DARK_LOGO in html or "</head>" not in html:
        return html
    return html.replace("</head>", DARK_LOGO + "\n</head>", 1)


def _local_url(url: str, root: str) -> str | None:
    if url in CDN_FILES:
        return f"{root}/{SITE_ASSETS}/{CDN_FILES[url]}"
    if url.startswith(GX_WEB_ASSETS):
        name = GX_IMAGES.get(url.removeprefix(GX_WEB_ASSETS).split("?")[0])
        return None if name is None else f"{root}/static/images/{name}"
    return None
