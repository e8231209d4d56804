"""One generated world cut into two days of exports: what a help desk's next incremental export adds.

Used to exercise and measure an incremental daily run (tests/integration/test_incremental_daily_run.py,
bench/scale.py --next-day). Day two holds what Zendesk's incremental exports return for the time since the cut:
the tickets updated since (their final records; day one holds an earlier copy of those that already existed,
as they were created, still open), and the comments, field changes, metric events and satisfaction ratings
dated since, from the regular files and the late deliveries alike. From billing it holds what Stripe's lists
filtered on `created` return since the cut: the invoices, charges, refunds and credit notes created since, with
the records that name one of them (an invoice's line items, charges and credit notes, a charge's refunds), and
the FX rates dated after the cut's day. Every other file is day one's, so day one is a whole day of its own that
passes its own checks: a comment, change or event of a ticket created after the cut (the generator plants clock
skew, so one can be dated earlier than its ticket) goes to day two with its ticket. Lines that are not a dated
record (planted defects) stay in day one.

Not split (yet): billing's subscriptions, subscription events and customers, CRM and survey exports; day one
holds them whole.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

# Each support entity's file and the field that dates a record in it (Zendesk's export field names).
DATED_SUPPORT = {
    "tickets": "updated_at",
    "ticket_comments": "created_at",
    "ticket_field_history": "updated",
    "ticket_metric_events": "time",
    "satisfaction_ratings": "updated_at",
}
NEXT_DAY_SUFFIX = "__next_day"
# Stripe's records that day two takes by `created` (epoch seconds), in an order where a record's parents come
# first, and the fields naming a parent record whose move takes the record along.
BILLING_CREATED = ("invoices", "charges", "refunds", "credit_notes")
BILLING_PARENTS = {
    "invoices": (),
    "invoice_line_items": (("invoice", "invoices"),),
    "charges": (("invoice", "invoices"),),
    "refunds": (("charge", "charges"), ("metadata.invoice", "invoices")),
    "credit_notes": (("invoice", "invoices"), ("refund", "refunds")),
}


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _is_after(line: str, field: str, cut: datetime, tickets_after: set) -> bool:
    try:
        record = json.loads(line)
        ticket = record.get("ticket_id")  # a comment's, change's, event's or rating's; a ticket has none
        return instant(record[field]) > cut or (ticket is not None and ticket in tickets_after)
    except (ValueError, KeyError, TypeError, AttributeError):
        return False


def _tickets_created_after(support: Path, cut: datetime) -> set:
    created = set()
    for path in support.glob("tickets*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
                if record["id"] is not None and instant(record["created_at"]) > cut:
                    created.add(record["id"])
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
    return created


def latest_ticket_update(exports: Path) -> datetime:
    """The export's last ticket update: a cut some days before it leaves a next day with activity in it."""
    latest = None
    for line in (exports / "support" / "tickets.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            moment = instant(json.loads(line)["updated_at"])
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        latest = moment if latest is None or moment > latest else latest
    if latest is None:
        raise ValueError(f"{exports}/support/tickets.jsonl has no dated ticket")
    return latest


def _field(record: dict, path: str):
    for name in path.split("."):
        record = record.get(name) if isinstance(record, dict) else None
    return record


def _billing_moved(billing: Path, cut: datetime) -> dict[str, set]:
    """The ids of each billing entity that day two takes: created after the cut, or naming a record it takes."""
    moved: dict[str, set] = {}
    for entity, parents in BILLING_PARENTS.items():
        ids = moved[entity] = set()
        for path in sorted(billing.glob(f"{entity}*.jsonl")):
            if path.name.removesuffix(".jsonl").split("__")[0] != entity:
                continue
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                    created = record.get("created") if entity in BILLING_CREATED else None
                    if record["id"] is not None and (
                        (isinstance(created, int) and created > cut.timestamp())
                        or any(_field(record, field) in moved[parent] for field, parent in parents)
                    ):
                        ids.add(record["id"])
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue
    return moved


def _is_billing_after(line: str, entity: str, moved: dict[str, set]) -> bool:
    try:
        return json.loads(line)["id"] in moved[entity]
    except (ValueError, KeyError, TypeError, AttributeError):
        return False


def _is_rate_after(line: str, cut: datetime) -> bool:
    """An fx_rates.csv row (rate_date first) dated after the cut's day; the header and defects are not."""
    try:
        return datetime.strptime(line.split(",", 1)[0], "%Y-%m-%d").date() > cut.date()
    except ValueError:
        return False


def _write_days(path: Path, day_one: Path, day_two: Path, first: list[str], second: list[str]) -> None:
    (day_one / path.name).write_text("\n".join(first) + "\n", encoding="utf-8")
    day_two.mkdir(parents=True, exist_ok=True)
    (day_two / f"{path.stem}{NEXT_DAY_SUFFIX}{path.suffix}").write_text("\n".join(second) + "\n", encoding="utf-8")


def split_next_day(exports: Path, day_one: Path, day_two: Path, days_before_end: int = 4) -> dict[str, int]:
    """Write day one's and day two's folders from `exports`; returns how many records day two got per file."""
    cut = latest_ticket_update(exports) - timedelta(days=days_before_end)
    tickets_after = _tickets_created_after(exports / "support", cut)
    billing_moved = _billing_moved(exports / "billing", cut) if (exports / "billing").is_dir() else {}
    moved: dict[str, int] = {}
    for source in sorted(p for p in exports.iterdir() if p.is_dir()):
        (day_one / source.name).mkdir(parents=True)
        for path in sorted(source.iterdir()):
            entity = path.name.split(".")[0].split("__")[0]  # late deliveries (x__late.jsonl) too
            if source.name == "billing" and (entity in billing_moved or path.name.startswith("fx_rates")):
                lines = path.read_text(encoding="utf-8").splitlines()
                if entity == "fx_rates":
                    second = [line for line in lines if _is_rate_after(line, cut)]
                    first = [line for line in lines if not _is_rate_after(line, cut)]
                    second = [*lines[:1], *second]  # the header too
                else:
                    second = [line for line in lines if _is_billing_after(line, entity, billing_moved)]
                    first = [line for line in lines if not _is_billing_after(line, entity, billing_moved)]
                _write_days(path, day_one / source.name, day_two / source.name, first, second)
                moved[path.name] = len(second) - (entity == "fx_rates")
                continue
            if source.name != "support" or entity not in DATED_SUPPORT:
                shutil.copy(path, day_one / source.name / path.name)
                continue
            first, second = [], []
            for line in path.read_text(encoding="utf-8").splitlines():
                if not _is_after(line, DATED_SUPPORT[entity], cut, tickets_after):
                    first.append(line)
                    continue
                second.append(line)
                record = json.loads(line)
                if entity == "tickets" and instant(record["created_at"]) <= cut:
                    first.append(json.dumps({**record, "status": "open", "updated_at": record["created_at"]}))
            (day_one / source.name / path.name).write_text("\n".join(first) + "\n", encoding="utf-8")
            (day_two / source.name).mkdir(parents=True, exist_ok=True)
            (day_two / source.name / f"{path.name.removesuffix('.jsonl')}{NEXT_DAY_SUFFIX}.jsonl").write_text(
                "\n".join(second) + "\n", encoding="utf-8"
            )
            moved[path.name] = len(second)
    return moved
