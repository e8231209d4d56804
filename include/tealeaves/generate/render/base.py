"""What every renderer shares: its own random stream, its sinks, and how timestamps are written."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tealeaves.generate.calendar import MerchantClock
from tealeaves.generate.fakes import seeded
from tealeaves.generate.life import Life
from tealeaves.generate.sinks import CsvSink, JsonlSink, Sink
from tealeaves.generate.world import Truth

OFFSETS = (-8, -5, -3, 1, 2, 5.5, 9)  # hours; the offsets mixed-time-zone exports show
OFFSET_ZONES = {hours: timezone(timedelta(hours=hours)) for hours in OFFSETS}


def alias_domain(domain: str) -> str:
    """The company's second domain (acme-00012.com -> acme-00012.net): the same company, another spelling."""
    stem = domain.rsplit(".", 1)[0]
    return f"{stem}.net"


def utc_seconds(moment: datetime) -> str:
    """An instant as ISO 8601 in UTC to the second, "...Z". Remembered for the last few thousand instants: a
    ticket's creation, reply and solve are each written four or five times (the ticket, its comments, its
    status changes, its metric events), and formatting took a tenth of the support renderer's time.

    Remembered by the instant's POSIX timestamp, not by the datetime: hashing an aware datetime (what
    functools.lru_cache did) converts it to UTC first, and cost 8% of the support process at 10,000 customers
    with the cache's own bookkeeping; a timestamp and a dict cost a third less. Within 2**33 seconds of 1970
    (the years 1698 to 2242) a float timestamp keeps every microsecond, so two instants share a key only when
    they are the same instant (the two 02:30s of a night the clocks go back are an hour apart); outside that
    range nothing is remembered."""
    key = moment.timestamp()
    text = _UTC_TEXT.get(key)
    if text is None:
        text = moment.astimezone(UTC).isoformat("T", "seconds").replace("+00:00", "Z")
        if -_EXACT_TIMESTAMPS < key < _EXACT_TIMESTAMPS:
            if len(_UTC_TEXT) >= _UTC_TEXT_SIZE:
                _UTC_TEXT.clear()
            _UTC_TEXT[key] = text
    return text


_UTC_TEXT: dict[float, str] = {}
_UTC_TEXT_SIZE = 8192
_EXACT_TIMESTAMPS = float(2**33)


REGISTRY: dict[str, type[Renderer]] = {}


class Renderer:
    """Base class. `source` names the folder; each renderer draws from a stream seeded by its own name,
    so adding or changing one source never changes the files of another. Subclasses register themselves."""

    source: str = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.source:
            REGISTRY[cls.source] = cls

    def __init__(self, root: Path, truth: Truth, seed: int, scratch: Path) -> None:
        self.root, self.truth = root / self.source, truth
        self.scratch = scratch  # a folder of the generator's own for this renderer's spools (generate.spool)
        self.clock = MerchantClock(truth.timezone)
        self.rng = random.Random(f"{seed}:{self.source}")
        self.fake = seeded(f"{seed}:{self.source}")
        self.sinks: dict[str, Sink] = {}
        self.export_end = datetime.max.replace(tzinfo=UTC)  # nothing at or after this moment is in the export

    def exported_at(self, end: date) -> None:
        """The export's date: the renderer leaves out every event that had not happened by its local midnight."""
        self.export_end = self.clock.at(end)

    def csv(self, name: str, columns: list[str], key: str | None, cosmetic: tuple[str, ...] = ()) -> CsvSink:
        sink = CsvSink(self.root, name, columns, self.truth.dirt, self.rng, key, cosmetic)
        self.sinks[name] = sink
        return sink

    def jsonl(self, name: str, key: str | None, cosmetic: tuple[str, ...] = ()) -> JsonlSink:
        sink = JsonlSink(self.root, name, self.truth.dirt, self.rng, key, cosmetic)
        self.sinks[name] = sink
        return sink

    def iso(self, moment: datetime, millis: bool = False) -> str:
        """ISO 8601; a share of values carry a non-UTC offset, as exports from several regions do."""
        rng = self.rng
        if rng.random() < self.truth.dirt.mixed_offsets:
            zone = OFFSET_ZONES[rng.choice(OFFSETS)]
            return moment.astimezone(zone).isoformat("T", "milliseconds" if millis else "seconds")
        if not millis:
            return utc_seconds(moment)
        return moment.astimezone(UTC).isoformat("T", "milliseconds").replace("+00:00", "Z")

    def email(self, address: str) -> str:
        """An address as another system holds it: sometimes in other case, or at the company's alias domain
        (the CRM lists it in hs_additional_domains). Identity matching must see through both."""
        if self.rng.random() >= self.truth.dirt.email_variant:
            return address
        local, _, domain = address.partition("@")
        if self.rng.random() < 0.5:
            return f"{local.title()}@{domain.upper()}"
        return f"{local}@{alias_domain(domain)}"

    # -- hooks ---------------------------------------------------------------------------------------------
    def day(self, day: date) -> None:
        """Once per simulated day, before that day's customers."""

    def lead(self, company: dict[str, Any]) -> None:
        """A CRM company that never buys."""

    def customer(self, life: Life) -> None:
        """A paying customer's whole life."""

    def finish(self, end: date) -> None:
        """After the last day: files that describe the whole period."""

    def planted(self) -> dict[str, Any]:
        """What this renderer planted beyond the shared truth (counts of defects, its own rates), for truth.json."""
        return {}

    def realised(self) -> dict[str, Any]:
        """What actually happened in this source's part of the world, before any export defect, for truth.json.

        The planted rates say what the world tends to; these are the outcomes one seed drew, so a mart can be
        compared with them exactly where it should be exact, not within the sampling noise of a rate."""
        return {}

    def close(self) -> dict[str, dict[str, int]]:
        for sink in self.sinks.values():
            sink.close()
        return {f"{self.source}/{name}": dict(sink.counts) for name, sink in self.sinks.items()}
