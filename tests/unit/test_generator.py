"""The generator is deterministic for a seed and plants the truth it reports."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tealeaves.generate import default_truth, generate


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    generate(tmp_path / "a", customers=120, months=3, seed=5)
    generate(tmp_path / "b", customers=120, months=3, seed=5)
    generate(tmp_path / "c", customers=120, months=3, seed=6)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a")["billing/invoices.jsonl"] != digest(tmp_path / "c")["billing/invoices.jsonl"]


def test_truth_keeps_cac_per_channel_whatever_the_size(tmp_path):
    generate(tmp_path, customers=400, start=date(2025, 1, 1), months=4, seed=1)
    truth = json.loads((tmp_path / "truth.json").read_text())
    planted = {c["name"]: c["true_cac"] for c in truth["truth"]["channels"]}
    assert planted == {c.name: c.true_cac for c in default_truth().channels}
    assert abs(truth["customers"] - 400) < 4 * 400**0.5, "about the requested number of customers"
    assert truth["files"]["billing/customers.jsonl"]["records"] == truth["customers"]


def test_no_export_holds_an_event_from_after_the_export_date(tmp_path):
    """An export is a snapshot: replies, solves, closures and ratings that would come later are not in it yet."""
    truth = generate(tmp_path, customers=150, start=date(2025, 1, 1), months=2, seed=3)
    end = datetime.combine(date.fromisoformat(truth["end"]), time(), UTC)
    stamps = {
        "ticket_comments.jsonl": "created_at",
        "ticket_field_history.jsonl": "updated",
        "satisfaction_ratings.jsonl": "created_at",
        "tickets.jsonl": "updated_at",
    }
    seen = 0
    for name, field in stamps.items():
        for line in (tmp_path / "support" / name).read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a planted malformed line
            if record.get(field):
                seen += 1
                assert datetime.fromisoformat(record[field]) < end, f"{name}: {record[field]} is after the export"
    assert seen > 500
    unanswered = sum(
        1 for line in (tmp_path / "support" / "tickets.jsonl").read_text().splitlines() if '"status":"new"' in line
    )
    assert unanswered > 0, "tickets opened just before the export are still unanswered in it"


def test_a_merchant_in_sydney_renews_at_its_own_local_time_and_exports_utc_instants(tmp_path):
    """Renewal invoices bill at 06:00 in Sydney on the sign-up's local day of the month, across both daylight-saving
    changes, and the epochs are those local times' UTC instants; nothing is dated at or after the export's local
    midnight. The zone is in truth.json."""
    sydney = ZoneInfo("Australia/Sydney")
    truth = generate(tmp_path, customers=150, start=date(2025, 1, 1), months=12, seed=3, timezone="Australia/Sydney")
    assert truth["truth"]["timezone"] == "Australia/Sydney"
    export_end = datetime.combine(date.fromisoformat(truth["end"]), time(), sydney).timestamp()
    renewals, offsets = 0, set()
    for line in (tmp_path / "billing" / "invoices.jsonl").read_text().splitlines():
        try:
            invoice = json.loads(line)
        except json.JSONDecodeError:
            continue  # a planted malformed line
        assert invoice["created"] < export_end
        if invoice.get("billing_reason") == "subscription_cycle":
            local = datetime.fromtimestamp(invoice["period_start"], sydney)
            assert local.time() == time(6), local
            renewals += 1
            offsets.add(local.utcoffset())
    assert renewals > 500 and offsets == {timedelta(hours=10), timedelta(hours=11)}


def test_an_unknown_time_zone_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="Mars/Base"):
        generate(tmp_path / "out", customers=10, months=1, timezone="Mars/Base")
    assert not (tmp_path / "out").exists()
