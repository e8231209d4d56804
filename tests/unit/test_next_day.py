"""The next-day cut: day two holds exactly what an incremental export since the cut would, day one the rest."""

from __future__ import annotations

import json
from pathlib import Path

from tealeaves.generate.next_day import split_next_day


def _write(path: Path, records: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")


def _ids(path: Path) -> list:
    """The ids of the file's JSON records, in order; other lines are left out."""
    ids = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            ids.append(json.loads(line)["id"])
        except json.JSONDecodeError:
            continue
    return ids


def test_day_two_holds_the_records_since_the_cut_and_the_children_of_tickets_created_after_it(tmp_path):
    exports = tmp_path / "exports"
    _write(
        exports / "support" / "tickets.jsonl",
        [
            {"id": 1, "created_at": "2025-06-01T09:00:00Z", "updated_at": "2025-06-02T09:00:00Z", "status": "closed"},
            {"id": 2, "created_at": "2025-06-20T09:00:00Z", "updated_at": "2025-06-29T09:00:00Z", "status": "solved"},
            {"id": 3, "created_at": "2025-06-28T09:00:00Z", "updated_at": "2025-06-30T09:00:00Z", "status": "open"},
            # a planted defect: no id. Updated after the cut, it is day two's; it must not pull every record whose
            # ticket_id is missing (the tickets themselves) along with it
            {"id": None, "created_at": "2025-06-29T09:00:00Z", "updated_at": "2025-06-29T10:00:00Z", "status": "new"},
            "{not json",
        ],
    )
    _write(
        exports / "support" / "ticket_comments__late.jsonl",
        [
            {"id": 10, "ticket_id": 1, "created_at": "2025-06-01T10:00:00Z"},
            {"id": 11, "ticket_id": 2, "created_at": "2025-06-27T10:00:00Z"},
            # clock skew: dated before the cut, on a ticket created after it
            {"id": 12, "ticket_id": 3, "created_at": "2025-06-25T10:00:00Z"},
        ],
    )
    _write(exports / "crm" / "companies.csv", ["hs_object_id,name", "1,Acme"])

    moved = split_next_day(exports, tmp_path / "day1", tmp_path / "day2", days_before_end=4)  # cut: 26 June 09:00

    day1, day2 = tmp_path / "day1" / "support", tmp_path / "day2" / "support"
    assert _ids(day2 / "tickets__next_day.jsonl") == [2, 3, None]
    # ticket 2 existed at the cut: day one holds it as it was created, still open
    assert [(t["id"], t["status"]) for t in map(json.loads, (day1 / "tickets.jsonl").read_text().splitlines()[:2])] == [
        (1, "closed"),
        (2, "open"),
    ]
    assert _ids(day1 / "tickets.jsonl") == [1, 2]
    assert "{not json" in (day1 / "tickets.jsonl").read_text()
    assert _ids(day2 / "ticket_comments__late__next_day.jsonl") == [11, 12]
    assert _ids(day1 / "ticket_comments__late.jsonl") == [10]
    assert (tmp_path / "day1" / "crm" / "companies.csv").read_text() == "hs_object_id,name\n1,Acme\n"
    assert not (tmp_path / "day2" / "crm").exists()
    assert moved == {"ticket_comments__late.jsonl": 2, "tickets.jsonl": 3}


def test_day_two_holds_the_billing_records_created_since_the_cut_and_those_naming_them(tmp_path):
    exports = tmp_path / "exports"
    cut = 1750928400  # 26 June 2025 09:00 UTC: the last ticket update (30 June 09:00) less 4 days
    _write(
        exports / "support" / "tickets.jsonl",
        [{"id": 1, "created_at": "2025-06-01T09:00:00Z", "updated_at": "2025-06-30T09:00:00Z", "status": "open"}],
    )
    _write(
        exports / "billing" / "invoices.jsonl",
        [{"id": "in_old", "created": cut - 60}, {"id": "in_new", "created": cut + 60}, "{not json"],
    )
    _write(
        exports / "billing" / "invoice_line_items__late.jsonl",
        [{"id": "il_old", "invoice": "in_old"}, {"id": "il_new", "invoice": "in_new"}],
    )
    # clock skew: a charge dated before the cut, on an invoice created after it, goes with its invoice
    _write(
        exports / "billing" / "charges.jsonl",
        [
            {"id": "ch_old", "invoice": "in_old", "created": cut - 30},
            {"id": "ch_new", "invoice": "in_new", "created": cut - 1},
        ],
    )
    _write(
        exports / "billing" / "refunds.jsonl",
        [
            {"id": "re_old_charge_later", "charge": "ch_old", "created": cut + 5, "metadata": {}},
            {"id": "re_new_charge", "charge": "ch_new", "created": cut - 1, "metadata": {}},
            {"id": "re_kept", "charge": "ch_old", "created": cut - 1, "metadata": {"invoice": "in_old"}},
        ],
    )
    _write(
        exports / "billing" / "credit_notes.jsonl",
        [{"id": "cn_1", "invoice": "in_x", "refund": "re_new_charge", "created": 1}],
    )
    _write(exports / "billing" / "subscriptions.jsonl", [{"id": "sub_1", "created": cut + 60}])
    _write(
        exports / "billing" / "fx_rates.csv",
        ["rate_date,currency,rate_to_usd", "2025-06-26,EUR,1.1", "2025-06-27,EUR,1.2"],
    )

    moved = split_next_day(exports, tmp_path / "day1", tmp_path / "day2", days_before_end=4)

    day1, day2 = tmp_path / "day1" / "billing", tmp_path / "day2" / "billing"
    assert _ids(day2 / "invoices__next_day.jsonl") == ["in_new"]
    assert _ids(day1 / "invoices.jsonl") == ["in_old"] and "{not json" in (day1 / "invoices.jsonl").read_text()
    assert _ids(day2 / "invoice_line_items__late__next_day.jsonl") == ["il_new"]
    assert _ids(day2 / "charges__next_day.jsonl") == ["ch_new"]
    assert _ids(day2 / "refunds__next_day.jsonl") == ["re_old_charge_later", "re_new_charge"]
    assert _ids(day1 / "refunds.jsonl") == ["re_kept"]
    assert _ids(day2 / "credit_notes__next_day.jsonl") == ["cn_1"]
    assert _ids(day1 / "subscriptions.jsonl") == ["sub_1"]  # not split: day one holds it whole
    assert (day2 / "fx_rates__next_day.csv").read_text() == "rate_date,currency,rate_to_usd\n2025-06-27,EUR,1.2\n"
    assert (day1 / "fx_rates.csv").read_text() == "rate_date,currency,rate_to_usd\n2025-06-26,EUR,1.1\n"
    assert moved["invoices.jsonl"] == 1 and moved["fx_rates.csv"] == 1 and "subscriptions.jsonl" not in moved
