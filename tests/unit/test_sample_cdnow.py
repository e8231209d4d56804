"""`tealeaves sample cdnow` writes the published CDNOW sample as billing exports, and never over someone's files.

The oracle is the vendored file itself and its README: 6,919 transactions of 2,357 customers, every customer's
first purchase in Q1 1997, 4,960 of the transactions on or before the calibration end (1997-09-30).
"""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

from tealeaves.samples.cdnow import transactions
from tests.conftest import TEALEAVES


def sample(out: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([TEALEAVES, "sample", "cdnow", "--out", str(out), *args], capture_output=True, text=True)


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_the_calibration_period_is_written_as_one_paid_one_off_invoice_per_transaction(tmp_path):
    result = sample(tmp_path / "cdnow")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1 and "2357 customers, 4960 invoices" in result.stdout
    billing = tmp_path / "cdnow" / "billing"
    customers, invoices = records(billing / "customers.jsonl"), records(billing / "invoices.jsonl")
    lines, charges = records(billing / "invoice_line_items.jsonl"), records(billing / "charges.jsonl")
    assert len(customers) == len({c["id"] for c in customers}) == 2357
    assert len(invoices) == len(lines) == 4960
    assert all(i["subscription"] is None and i["status"] == "paid" and i["currency"] == "usd" for i in invoices)
    assert max(i["created"] for i in invoices) == 875577600  # 1997-09-30 00:00 UTC: calibration data only
    assert {i["customer"] for i in invoices} == {c["id"] for c in customers}
    calibration = [t for t in transactions() if t.day.isoformat() <= "1997-09-30"]
    assert sum(i["amount_paid"] for i in invoices) == sum(t.dollars for t in calibration) * 100
    assert sum(line["quantity"] for line in lines) == sum(t.cds for t in calibration)
    # a $0 purchase is a paid $0 invoice with no card charge, as Stripe records it
    free = [i for i in invoices if i["amount_paid"] == 0]
    assert len(free) == sum(1 for t in calibration if t.dollars == Decimal(0)) == 8
    assert all(i["charge"] is None for i in free)
    assert len(charges) == 4960 - 8
    assert {c["invoice"] for c in charges} == {i["id"] for i in invoices if i["amount_paid"] > 0}


def test_every_purchase_when_asked_and_a_rerun_replaces_its_own_files(tmp_path):
    assert sample(tmp_path, "--through", "1997-09-30").returncode == 0
    result = sample(tmp_path, "--through", "all")
    assert result.returncode == 0, result.stderr
    assert "2357 customers, 6919 invoices" in result.stdout
    assert len(records(tmp_path / "billing" / "invoices.jsonl")) == 6919


def test_it_refuses_a_folder_holding_files_it_did_not_write_and_writes_nothing(tmp_path):
    (tmp_path / "billing").mkdir()
    (tmp_path / "billing" / "invoices.jsonl").write_text('{"id": "in_mine"}\n')
    result = sample(tmp_path)
    assert result.returncode == 2
    assert "billing/invoices.jsonl" in result.stderr and result.stderr.count("\n") == 1
    assert (tmp_path / "billing" / "invoices.jsonl").read_text() == '{"id": "in_mine"}\n'
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["billing", "invoices.jsonl"]


def test_it_refuses_to_overwrite_its_own_file_once_someone_changed_it(tmp_path):
    assert sample(tmp_path).returncode == 0
    with (tmp_path / "billing" / "charges.jsonl").open("a") as handle:
        handle.write('{"id": "ch_added_by_hand"}\n')
    assert sample(tmp_path).returncode == 2
    assert "ch_added_by_hand" in (tmp_path / "billing" / "charges.jsonl").read_text()
