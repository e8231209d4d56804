"""NPS as docs/metrics.md defines it, read straight from the Qualtrics export files."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path


def nps_category(score: int) -> str:
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def read_qualtrics_nps(exports: Path) -> dict[str, tuple[datetime, int]]:
    """Response id -> (submitted, score) from every nps_responses*.csv, as a careful analyst would read them.

    Qualtrics CSVs have three header rows (field names, question texts, ImportIds). Files are read oldest
    first (the __late delivery last), so a re-delivered response keeps its latest copy; rows without a
    response id or cut short (fewer fields than the header) are broken copies and are skipped.
    """
    responses: dict[str, tuple[datetime, int]] = {}
    files = sorted((exports / "survey").glob("nps_responses*.csv"), key=lambda path: "__late" in path.name)
    assert files, "the NPS export is present"
    for path in files:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = csv.reader(handle)
            header = [name.lower() for name in next(rows)]
            next(rows), next(rows)  # question texts and ImportIds
            for row in rows:
                if len(row) != len(header):
                    continue
                record = dict(zip(header, row, strict=True))
                if not record["responseid"].strip() or not record["q1"].strip():
                    continue
                submitted = datetime.strptime(record["enddate"], "%Y-%m-%d %H:%M:%S")
                responses[record["responseid"].strip()] = (submitted, int(record["q1"]))
    return responses
