"""Timestamps exported with mixed time-zone offsets land in staging as the same instants, in UTC."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import psycopg


def test_every_company_creation_time_is_the_same_instant_in_utc(pipeline):
    url, exports, _ = pipeline("offsets", "stg_crm__companies", customers=80, months=2, seed=5)
    exported: dict[int, datetime] = {}
    offsets = set()
    for path in sorted((exports / "crm").glob("companies*.csv")):  # main file first, late deliveries after
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                try:
                    moment = datetime.fromisoformat(row["createdate"].replace("Z", "+00:00"))
                    company = int(row["hs_object_id"])
                except (ValueError, TypeError):
                    continue  # the planted broken lines, which the loader quarantines
                offsets.add(moment.utcoffset())
                exported[company] = moment
    assert len(offsets) > 1, "the export mixes time-zone offsets"
    with psycopg.connect(url) as conn:
        staged = dict(conn.execute("select company_id, created_at from staging.stg_crm__companies"))
    assert staged.keys() == exported.keys()
    wrong = {
        c: (staged[c], exported[c]) for c in staged if staged[c] != exported[c].astimezone(UTC).replace(tzinfo=None)
    }
    assert wrong == {}
