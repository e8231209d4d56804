"""The documentation a user reads in a browser: dbt docs (what every table and column means) and GX Data Docs
(what the quality gate checked and found), built under `<home>/docs` and served on localhost.

dbt's `--static` page holds the manifest and catalog inline, so it opens as a file too; the Data Docs are
written by every gate run (see tealeaves.quality.gate).
"""

from __future__ import annotations

import functools
import http.server
from pathlib import Path

from tealeaves.config import Settings
from tealeaves.dbt_cli import dbt_executable
from tealeaves.orchestrate import build_manifest, run_tool
from tealeaves.state import private_opener

INDEX = """<!doctype html>
<html><head><meta charset="utf-8"><title>tealeaves docs</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>tealeaves documentation</h1>
<ul>
<li><a href="dbt/static_index.html">dbt docs</a>: every staging, intermediate and mart model, its columns,
tests and lineage.</li>
<li><a href="quality/index.html">Data quality (Great Expectations Data Docs)</a>: the suites and the latest
gate run's results{quality_note}.</li>
</ul>
</body></html>
"""


def build_docs(settings: Settings) -> Path:
    """dbt docs (with the warehouse's catalog) into docs/dbt, and an index page; returns the index."""
    build_manifest(settings)
    target = settings.docs_dir / "dbt"
    dbt = dbt_executable()
    run_tool(
        settings,
        # The catalog describes the published marts, not the build schema the swap has already renamed away.
        [
            dbt,
            "docs",
            "generate",
            "--static",
            "--quiet",
            "--target-path",
            str(target),
            "--vars",
            "{marts_build_schema: marts}",
        ],
        "dbt docs generate",
        cwd=settings.dbt_project_dir,
    )
    quality = settings.docs_dir / "quality" / "index.html"
    note = "" if quality.exists() else " (none yet: run the daily DAG, e.g. `make demo`)"
    index = settings.docs_dir / "index.html"
    with open(index, "w", encoding="utf-8", opener=private_opener) as out:
        out.write(INDEX.format(quality_note=note))
    return index


def serve_docs(settings: Settings, port: int) -> None:
    """Serve docs/ on 127.0.0.1 until interrupted."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(settings.docs_dir))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        server.serve_forever()
