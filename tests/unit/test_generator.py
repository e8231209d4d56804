"""The generator is deterministic for a seed and plants the truth it reports."""

from __future__ import annotations

import csv
import hashlib
import json
import random
import subprocess
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from faker import Faker

from tealeaves.generate import default_truth, generate
from tealeaves.generate.calendar import add_business_minutes, business_minutes_between
from tealeaves.generate.fakes import Stream, faster
from tealeaves.generate.render.billing import period_mrr_cents
from tealeaves.generate.sinks import JsonlSink
from tests.conftest import TEALEAVES
from tests.exports import read_jsonl


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


def test_the_files_do_not_depend_on_how_many_processes_write_them(tmp_path):
    """Worker processes share the sources out; the bytes written, truth.json included, are the same for any
    number of them, and truth.json (streamed from disk spools) is json.dumps of the report generate returns."""
    one = generate(tmp_path / "one", customers=150, months=3, seed=5, workers=1)
    three = generate(tmp_path / "three", customers=150, months=3, seed=5, workers=3)
    assert digest(tmp_path / "one") == digest(tmp_path / "three")
    assert one == three
    assert (tmp_path / "one" / "truth.json").read_text() == json.dumps(one, indent=2)
    assert len(one["realised"]["billing"]["subscriptions"]) == one["customers"]


@pytest.mark.parametrize("seed", [5, "42:support", "7:crm"])
def test_faster_faker_writes_what_faker_writes(seed):
    """The generator's Faker draws names and lorem text from sums and word lists made once: the same calls on
    the same seed give what Faker itself gives, whatever the order of the calls."""
    plain, fast = Faker("en_US"), faster(Faker("en_US"))
    plain.seed_instance(seed)
    fast.seed_instance(seed)
    calls = [
        lambda f: f.first_name(),
        lambda f: f.last_name(),
        lambda f: f.company(),
        lambda f: f.sentence(),
        lambda f: f.sentence(nb_words=1),
        lambda f: f.paragraph(nb_sentences=2),
        lambda f: f.paragraph(),
        lambda f: f.bs(),
        lambda f: f.country_code(),
    ]
    order = random.Random(seed).choices(range(len(calls)), k=5000)
    assert [calls[i](fast) for i in order] == [calls[i](plain) for i in order]


def test_the_generators_stream_draws_what_random_draws():
    """Stream's randint() and choice() are random.Random's draws written out: from the same seed they give the
    same values, in ranges of one value up to more than 2**32 wide, keep the stream in step, and refuse what
    Random refuses."""
    plain, fast = random.Random("42:support"), Stream("42:support")
    rng = random.Random(3)
    letters = "abcdefghijklmnopqrstuvwxyz"
    for _ in range(20_000):
        low = rng.randint(-(10**6), 10**6)
        high = low + rng.choice([0, 1, 2, 6, 61, 2**20, 2**33 + 5])
        assert fast.randint(low, high) == plain.randint(low, high)
        letters_here = letters[: rng.randint(1, 26)]
        assert fast.choice(letters_here) == plain.choice(letters_here)
        assert fast.random() == plain.random()
    with pytest.raises(ValueError):
        fast.randint(2, 1)
    with pytest.raises(IndexError):
        fast.choice([])


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
            local = datetime.fromtimestamp(invoice["created"], sydney)  # Stripe invoices a renewal when it falls
            assert local.time() == time(6), local
            renewals += 1
            offsets.add(local.utcoffset())
    assert renewals > 500 and offsets == {timedelta(hours=10), timedelta(hours=11)}


def test_invoice_periods_are_stripes_usage_periods_and_line_periods_the_service_billed(tmp_path):
    """Stripe's Invoice object: period_start/period_end are the usage period during which invoice items were added;
    a subscription's first invoice has both at its creation and a renewal invoice the period that just ended. The
    line item's period is the subscription period it bills, from the invoice's creation forward."""
    generate(tmp_path, customers=60, start=date(2025, 1, 1), months=4, seed=5)
    invoices = read_jsonl(tmp_path / "billing", "invoices")
    lines = read_jsonl(tmp_path / "billing", "invoice_line_items")
    renewals: dict[str, list[dict]] = defaultdict(list)
    for invoice in invoices.values():
        if invoice["subscription"] is not None:
            renewals[invoice["subscription"]].append(invoice)
    checked = Counter()
    for invoices_of_one in renewals.values():
        invoices_of_one.sort(key=lambda invoice: invoice["created"])
        first, *later = invoices_of_one
        assert first["period_start"] == first["period_end"] == first["created"]
        for previous, invoice in zip(invoices_of_one, later, strict=False):
            assert (invoice["period_start"], invoice["period_end"]) == (previous["created"], invoice["created"])
            checked["renewals"] += 1
        for invoice in invoices_of_one:
            [line] = [line for line in lines.values() if line["invoice"] == invoice["id"]]
            assert line["period"]["start"] == invoice["created"] < line["period"]["end"]
            checked["lines"] += 1
    assert checked["renewals"] > 50 and checked["lines"] > checked["renewals"]


def test_events_days_keeps_only_the_events_stripe_still_lists(tmp_path):
    """generate(events_days=30) writes the subscription events of the export's last 30 days only (Stripe's Events
    API lists events going back up to 30 days), every other file byte for byte as the full export of the same seed
    (the same world, its realised truth unchanged), and truth.json counts the events left out."""
    full = generate(tmp_path / "full", customers=60, start=date(2025, 1, 1), months=4, seed=5)
    truth = generate(tmp_path / "backfill", customers=60, start=date(2025, 1, 1), months=4, seed=5, events_days=30)
    window = datetime.combine(date.fromisoformat(truth["end"]), time(), UTC) - timedelta(days=30)
    events = read_jsonl(tmp_path / "backfill" / "billing", "subscription_events")
    assert events and all(event["created"] >= window.timestamp() for event in events.values())
    assert truth["truth"]["billing"]["events_days"] == 30
    assert truth["planted"]["billing"]["events_older_than_the_export_window"] > len(events)
    assert truth["realised"] == full["realised"]
    backfill, whole = digest(tmp_path / "backfill"), digest(tmp_path / "full")
    changed = {name for name, sha in whole.items() if backfill.get(name) != sha}
    assert changed == {"truth.json"} | {name for name in whole if name.startswith("billing/subscription_events")}
    assert "billing/subscription_events.jsonl" in changed and set(backfill) <= set(whole)


def test_a_world_can_end_inside_a_month(tmp_path):
    """`end` cuts the world on any day (the bench's next day then falls inside a month): the month it ends in is
    billed and worked up to the day before, and nothing is dated from it on; an end on or before the start is
    refused before anything is written."""
    truth = generate(tmp_path, customers=150, start=date(2025, 1, 1), end=date(2025, 2, 16), seed=3)
    assert (truth["start"], truth["end"]) == ("2025-01-01", "2025-02-16")
    end = datetime(2025, 2, 16, tzinfo=UTC)
    invoices = read_jsonl(tmp_path / "billing", "invoices").values()
    invoiced = [datetime.fromtimestamp(invoice["created"], UTC) for invoice in invoices]
    updated = [
        datetime.fromisoformat(ticket["updated_at"])
        for ticket in read_jsonl(tmp_path / "support", "tickets").values()
        if ticket.get("updated_at")
    ]
    for name, stamps in (("invoices", invoiced), ("tickets", updated)):
        assert max(stamps) < end, f"{name}: {max(stamps)} is on or after the end"
        assert max(stamps) >= end - timedelta(days=7), f"{name}: the last is {max(stamps)}, a week before the end"
    with pytest.raises(ValueError, match="must come after the start"):
        generate(tmp_path / "never", customers=10, start=date(2025, 1, 1), end=date(2025, 1, 1))
    assert not (tmp_path / "never").exists()


def test_the_cli_ends_the_data_on_end_and_refuses_an_end_it_cannot_honour(tmp_path):
    """`tealeaves generate --end` stops the world that day; --end on or before --start, beyond 240 months, or beside
    --months (which it replaces) exits 2 with nothing written."""
    run = subprocess.run(
        [TEALEAVES, "generate", "--out", str(tmp_path / "out"), "--customers", "20"]
        + ["--start", "2025-01-01", "--end", "2025-01-20"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "out" / "truth.json").read_text())["end"] == "2025-01-20"
    refusals = (
        ["--start", "2025-03-01", "--end", "2025-03-01"],
        ["--start", "2025-03-01", "--end", "2045-03-02"],
        ["--end", "2025-03-16", "--months", "2"],
    )
    for extra in refusals:
        refused = subprocess.run(
            [TEALEAVES, "generate", "--out", str(tmp_path / "no"), *extra], capture_output=True, text=True, timeout=60
        )
        assert refused.returncode == 2, refused.stderr
        assert "Traceback" not in refused.stderr
        assert not (tmp_path / "no").exists()


def test_the_cli_writes_a_backfill_without_events(tmp_path):
    """`tealeaves generate --events-days 0`: an export with every subscription and no subscription event (the file
    holds the blank line of an empty export); a negative window is refused before anything is written."""
    run = subprocess.run(
        [TEALEAVES, "generate", "--out", str(tmp_path / "out"), "--customers", "20", "--months", "2"]
        + ["--events-days", "0"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    truth = json.loads((tmp_path / "out" / "truth.json").read_text())
    assert truth["truth"]["billing"]["events_days"] == 0
    assert (tmp_path / "out" / "billing" / "subscription_events.jsonl").read_text().strip() == ""
    assert read_jsonl(tmp_path / "out" / "billing", "subscriptions")
    refused = subprocess.run(
        [TEALEAVES, "generate", "--out", str(tmp_path / "no"), "--events-days", "-1"], capture_output=True, text=True
    )
    assert refused.returncode == 2 and not (tmp_path / "no").exists()


def test_an_unknown_time_zone_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="Mars/Base"):
        generate(tmp_path / "out", customers=10, months=1, timezone="Mars/Base")
    assert not (tmp_path / "out").exists()


def test_realised_truth_is_what_the_exports_say_once_their_defects_are_set_aside(tmp_path):
    """truth.json's realised values agree with the written files read past their planted defects (duplicates,
    re-cased copies, cut-short rows, late files): ad spend per channel and month, new customers per month of their
    first invoice, each billing customer's CRM id where the export kept it, each NPS response's score and every
    ticket. So a mart compared with the realised truth is compared with what its sources really hold."""
    truth = generate(tmp_path, customers=150, start=date(2025, 1, 1), months=3, seed=8)
    realised = truth["realised"]

    spend: dict[tuple[str, str], Decimal] = {}
    for name in ("marketing_spend.csv", "marketing_spend__late.csv"):
        path = tmp_path / "crm" / name
        for row in csv.DictReader(path.open()) if path.exists() else ():
            if row["spend"] and row["currency"]:
                spend[(row["spend_date"], row["channel"].strip().upper(), row["campaign_id"].strip().lower())] = (
                    Decimal(row["spend"])
                )
    by_month: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for (day, channel, _), amount in spend.items():
        by_month[channel][day[:8] + "01"] += amount
    assert {
        c: {m: Decimal(str(v)) for m, v in months.items()} for c, months in realised["crm"]["paid_spend"].items()
    } == (by_month)

    first_paid: dict[str, int] = {}
    for invoice in read_jsonl(tmp_path / "billing", "invoices").values():
        if invoice.get("billing_reason") == "subscription_create":
            first_paid[invoice["customer"]] = invoice["created"]
    new = Counter(
        datetime.fromtimestamp(created, UTC).date().replace(day=1).isoformat() for created in first_paid.values()
    )
    realised_new: Counter[str] = Counter()
    for months in realised["crm"]["new_customers"].values():
        realised_new.update(months)
    assert realised_new == new and sum(new.values()) == truth["customers"]

    companies = realised["billing"]["customer_company"]
    assert len(companies) == len(realised["billing"]["subscriptions"]) == truth["customers"]
    explicit = {
        customer_id: int(record["metadata"]["hubspot_company_id"])
        for customer_id, record in read_jsonl(tmp_path / "billing", "customers").items()
        if record["metadata"].get("hubspot_company_id")
    }
    assert explicit.items() <= companies.items() and len(explicit) > 0.9 * len(companies)

    exported: dict[str, int] = {}
    for name in ("nps_responses.csv", "nps_responses__late.csv"):
        path = tmp_path / "survey" / name
        for row in list(csv.DictReader(path.open()))[2:] if path.exists() else ():  # after question texts, ImportIds
            if row.get("ResponseId") and row.get("Q1"):
                exported[row["ResponseId"]] = int(row["Q1"])
    assert exported == realised["survey"]["nps_answers"]
    assert len(exported) == truth["planted"]["survey"]["nps"]["responses"] > 5
    tickets = sum(sum(months.values()) for months in realised["support"]["tickets"].values())
    assert tickets == truth["planted"]["support"]["tickets"] > 100


@pytest.mark.parametrize(
    ("annual", "plan", "coupon", "cents"),
    [
        (False, 300, None, 30000),
        (False, 300, "save20", 24000),  # a repeating coupon lowers MRR while it lasts
        (False, 300, "welcome10", 30000),  # a once-only coupon on a monthly invoice does not (docs/metrics.md)
        (True, 100, None, 8333),  # a yearly plan bills 10 × the monthly price: 1000 / 12 = 83.333...
        (True, 120, "welcome10", 9000),  # once on a yearly invoice covers twelve months: 1200 × 0.9 / 12
        (True, 3, "save15annual", 213),  # 30 × 0.85 / 12 = 2.125 exactly: half a cent rounds up
    ],
)
def test_realised_mrr_follows_the_metrics_definition(annual, plan, coupon, cents):
    """The MRR truth.json records, by docs/metrics.md: the monthly value, yearly plans ÷ 12, less recurring
    discounts, in exact arithmetic rounded half up to the cent once."""
    life = SimpleNamespace(annual=annual)
    period = SimpleNamespace(mrr_usd=plan)
    assert period_mrr_cents(life, period, coupon) == cents


def _business_minutes_day_by_day(start: datetime, end: datetime) -> float:
    """Business minutes (Mon-Fri 09:00-17:00 UTC) from `start` to `end`, as a person would count them: each
    calendar day's overlap with its opening hours, summed."""
    seconds, day = 0.0, start.date()
    while day <= end.date():
        if day.weekday() < 5:
            opens = datetime.combine(day, time(9), UTC)
            closes = datetime.combine(day, time(17), UTC)
            seconds += max(0.0, (min(closes, end) - max(opens, start)).total_seconds())
        day += timedelta(days=1)
    return seconds / 60


def test_business_hours_arithmetic_agrees_with_counting_day_by_day():
    """The SLA clocks the generator plants (and the support tests recompute) count Monday-Friday 09:00-17:00
    UTC only: across evenings, weekends and many weeks, business_minutes_between matches a day-by-day count, and
    add_business_minutes lands where that count reaches the minutes asked for, inside opening hours."""
    rng = random.Random(15)
    for _ in range(3000):
        start = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(
            seconds=rng.randint(0, 400 * 86_400), microseconds=rng.choice((0, rng.randint(0, 999_999)))
        )
        minutes = rng.choice((rng.lognormvariate(5, 2), 480.0 * rng.randint(1, 40), rng.uniform(0, 60)))
        end = start + timedelta(minutes=rng.uniform(0, 60 * 24 * 60))
        assert business_minutes_between(start, end) == pytest.approx(_business_minutes_day_by_day(start, end))
        due = add_business_minutes(start, minutes)
        assert _business_minutes_day_by_day(start, due) == pytest.approx(minutes, abs=1e-6)
        assert due.weekday() < 5 and time(9) <= due.time() <= time(17)


@pytest.mark.parametrize(
    "record",
    [
        {"id": 1, "name": "Zoë Ångström", "note": 'naïve café \u2028 \x01 "q" \\', "ok": True, "gone": None},
        {"id": "in_1", "percent_off": 20.0, "fx": 1.0800000000000001, "big": 2**62, "lines": [{"amount": 15400}]},
    ],
)
def test_export_lines_are_what_json_dumps_writes(tmp_path, record):
    """A JSON Lines export line is json.dumps(record, separators=(",", ":")): ASCII only (non-ASCII text
    escaped), json's spelling of every float from 1e-4 to 1e16, one record per line."""
    sink = JsonlSink(tmp_path, "x.jsonl", default_truth().clean().dirt, random.Random(1), key="id")
    sink.write(record)
    sink.close()
    text = (tmp_path / "x.jsonl").read_bytes().decode("ascii")
    assert text == json.dumps(record, separators=(",", ":")) + "\n"


def test_export_lines_keep_the_exact_value_of_very_small_and_large_floats(tmp_path):
    """Outside 1e-4 to 1e16 a float may be spelled in another notation than json.dumps's (0.00007 for 7e-05),
    never another value: the generator writes no such float today, and a reader gets the same number back."""
    record = {"id": 1, "tiny": 7e-05, "tinier": 3.5e-09, "huge": 1e16, "huger": -3.862348208902049e17}
    sink = JsonlSink(tmp_path, "x.jsonl", default_truth().clean().dirt, random.Random(1), key="id")
    sink.write(record)
    sink.close()
    assert json.loads((tmp_path / "x.jsonl").read_text()) == record


def test_the_two_instants_of_a_repeated_wall_time_are_written_apart():
    """When Sydney's clocks go back, 02:30 happens twice; the two compare and hash equal as datetimes, so the
    generator's remembered answers must still tell them apart (an hour between them, in UTC and in epochs)."""
    from zoneinfo import ZoneInfo

    from tealeaves.generate.render.base import utc_seconds
    from tealeaves.generate.render.billing import epoch

    first = datetime(2025, 4, 6, 2, 30, tzinfo=ZoneInfo("Australia/Sydney"))
    second = first.replace(fold=1)
    assert (utc_seconds(first), utc_seconds(second)) == ("2025-04-05T15:30:00Z", "2025-04-05T16:30:00Z")
    assert (epoch(first), epoch(second)) == (int(first.timestamp()), int(second.timestamp()))
    assert epoch(second) - epoch(first) == 3600


def test_timestamps_are_written_as_datetime_writes_them():
    """utc_seconds and offset_seconds assemble ISO 8601 text from an instant's POSIX seconds: on many random
    instants in several zones (one wall time in two zones, both folds, microseconds either side of a second,
    before 1970, past 2242 where datetime formats them itself) they write what datetime's own isoformat writes,
    in UTC and at every offset the exports mix in."""
    from tealeaves.generate.render.base import OFFSET_ZONES, OFFSETS, offset_seconds, utc_seconds

    rng = random.Random(15)
    zones = [UTC, ZoneInfo("Australia/Sydney"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")]
    moments = []
    for _ in range(10_000):
        wall = datetime(1900, 1, 2) + timedelta(seconds=rng.randrange(400 * 365 * 86_400))
        wall = wall.replace(microsecond=rng.choice((0, 1, 999_999, rng.randrange(1_000_000))))
        for zone in rng.sample(zones, 2):  # the same wall time in two zones: two instants
            moment = wall.replace(tzinfo=zone, fold=rng.randrange(2))
            moments += [moment, moment + timedelta(microseconds=1), moment - timedelta(microseconds=1)]
    for moment in moments:
        assert utc_seconds(moment) == moment.astimezone(UTC).isoformat("T", "seconds").replace("+00:00", "Z")
        hours = rng.choice(OFFSETS)
        assert offset_seconds(moment, hours) == moment.astimezone(OFFSET_ZONES[hours]).isoformat("T", "seconds")


def _random_plain_item(rng: random.Random, depth: int = 0) -> object:
    zones = [UTC, ZoneInfo("Australia/Sydney"), ZoneInfo("America/New_York")]
    kinds = ["none", "bool", "int", "float", "str", "datetime"] + (["list", "tuple", "dict"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "none":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return rng.randint(-(2**62), 2**62)
    if kind == "float":
        return rng.uniform(-1e9, 1e9)
    if kind == "str":
        return "".join(rng.choice('aé€ z0\n"') for _ in range(rng.randrange(12)))
    if kind == "datetime":
        moment = datetime(1990, 1, 1) + timedelta(microseconds=rng.randrange(10**15))
        return moment.replace(tzinfo=rng.choice(zones), fold=rng.randrange(2))
    items = [_random_plain_item(rng, depth + 1) for _ in range(rng.randrange(5))]
    if kind == "dict":
        return {f"k{n}": item for n, item in enumerate(items)}
    return items if kind == "list" else tuple(items)


def _as_read_back(item: object) -> object:
    """What the plain spools promise: tuples come back as lists, datetimes as the same instant in UTC."""
    if isinstance(item, (list, tuple)):
        return [_as_read_back(value) for value in item]
    if isinstance(item, dict):
        return {key: _as_read_back(value) for key, value in item.items()}
    if isinstance(item, datetime):
        return item.astimezone(UTC)
    return item


def test_plain_spools_give_back_every_item_in_order(tmp_path):
    """The spools of plain data (support's SLA outcomes, survey answers waiting for their day) give back every
    item of random nested data, in the order added (by day, for DueSpool), each datetime the same instant, as the
    pickled ones do."""
    from tealeaves.generate.spool import DueSpool, PickleSpool

    rng = random.Random(15)
    items = [(number, _random_plain_item(rng)) for number in range(2_500)]  # three batches, the last one short
    for plain in (True, False):
        spool = PickleSpool(tmp_path / f"spool-{plain}", plain=plain)
        for item in items:
            spool.append(item)
        back = list(spool.drain())
        assert [_as_read_back(item) for item in back] == [_as_read_back(item) for item in items]
        if plain:
            assert all(item[1].tzinfo is UTC for item in back if isinstance(item[1], datetime))
        due = DueSpool(tmp_path / f"due-{plain}", plain=plain)
        days = [rng.randrange(30) for _ in items]
        for day, item in zip(days, items, strict=True):
            due.add(day, item)
        for day in range(30):
            expected = [_as_read_back(item) for d, item in zip(days, items, strict=True) if d == day]
            assert [_as_read_back(item) for item in due.take(day)] == expected
        due.close()


def test_truth_entries_are_what_json_dumps_writes(tmp_path):
    """truth.json's per-ticket and per-customer entries are written as json.dumps(value, indent=2) writes them,
    whichever encoder writes them: flat objects of strings, integers, booleans and nulls (a ticket's SLA truth)
    with DEL, control and non-ASCII characters in keys and values, floats at the extremes, nested values; and
    a spooled mapping of such entries, keyed by any text, reads in truth.json as json.dumps writes the dict."""
    from tealeaves.generate.spool import SpooledMapping, indented_json, write_truth

    entries = {"R_1": 5, "é\x1e": True, "2": -(2**70), "t": {"policy_id": 1, "x": None}, "f": [0.0, 1e16]}
    mapping = SpooledMapping(tmp_path / "entries.json")
    for key, value in entries.items():
        mapping.add(key, value)
    write_truth({"realised": {"entries": mapping}}, tmp_path / "truth.json")
    assert (tmp_path / "truth.json").read_text() == json.dumps({"realised": {"entries": entries}}, indent=2)

    rng = random.Random(15)
    keys = ["policy_id", "é", "d\x1f", "e\x7f", "first_reply_breached", 5]
    values = [None, True, False, 0, -1, 2**70, "High tickets", 'q"\\\n\x7f', "Zoë", "\u2028", "", 1.5, 7e-05, 1e16]
    for _ in range(5_000):
        value = {rng.choice(keys): rng.choice(values) for _ in range(rng.randint(0, 8))}
        assert indented_json(value) == json.dumps(value, indent=2)
        assert indented_json({"nested": value, "list": [value]}) == json.dumps(
            {"nested": value, "list": [value]}, indent=2
        )


def test_stripe_ids_draw_as_random_choices_does():
    """id_text spells out random.choices(alphabet, k=14): the same 14 characters from the same stream, which is
    left where choices leaves it, for 5,000 seeds and both alphabets the generator uses."""
    import string

    from tealeaves.generate.render.billing import ALPHABET, id_text

    for alphabet in (ALPHABET, string.ascii_lowercase + string.digits):
        for seed in range(2_500):
            ours, theirs = random.Random(seed), random.Random(seed)
            text = id_text(ours.random, alphabet, float(len(alphabet)))
            assert text == "".join(theirs.choices(alphabet, k=14))
            assert ours.random() == theirs.random()


def test_csv_export_lines_are_what_the_csv_module_writes(tmp_path):
    """A CSV export line is csv.writer's own line for the record (quotes, embedded commas, quotes and line
    breaks, empty values for None, non-ASCII text), written after the header, on random records."""
    import io

    from tealeaves.generate.sinks import CsvSink

    rng = random.Random(15)
    columns = ["a", "b", "c", "d"]
    sink = CsvSink(tmp_path, "x.csv", columns, default_truth().clean().dirt, random.Random(1), key="a")
    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\n")
    writer.writerow(columns)
    pieces = ["x", ",", '"', "\n", "é", " ", "1.5", ""]
    for _ in range(2_000):
        record = {c: rng.choice([None, rng.randint(-99, 99), "".join(rng.choices(pieces, k=4))]) for c in columns}
        sink.write(record)
        writer.writerow(["" if record[c] is None else record[c] for c in columns])
    sink.close()
    assert (tmp_path / "x.csv").read_text(encoding="utf-8") == expected.getvalue()
