"""What every renderer shares: its own random stream, its sinks, and how timestamps are written."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tealeaves.generate.calendar import MerchantClock
from tealeaves.generate.fakes import Stream, seeded
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
    """An instant as ISO 8601 in UTC to the second, "...Z": what
    `moment.astimezone(UTC).isoformat("T", "seconds").replace("+00:00", "Z")` writes, a sixth of the time.

    Every ticket writes its moments four or five times (the ticket, its comments, its status changes, its metric
    events), yet most calls are a moment not written before: a cache of the text by instant missed so often
    that the formatting itself was 4.2% of the support process at 10,000 customers. So the text is assembled
    from the day's date (remembered per day) and the time of day (one of 86,400 strings made once). The clock
    hands out instants in UTC, whose fields are the UTC day and time already: read directly, they cost a third
    of the POSIX timestamp (timestamp() alone was 2.5% of the support process); an instant in another zone goes
    through its timestamp."""
    if moment.tzinfo is UTC:
        day = moment.toordinal()
        prefix = _DAY_PREFIX.get(day)
        if prefix is None:
            prefix = _DAY_PREFIX[day] = date.fromordinal(day).isoformat() + "T"
        return prefix + _CLOCK[moment.hour * 3600 + moment.minute * 60 + moment.second] + "Z"
    return _local_seconds(moment, 0) + "Z"


def offset_seconds(moment: datetime, hours: float) -> str:
    """An instant as ISO 8601 to the second at a fixed UTC offset of `hours` (one of OFFSETS): what
    `moment.astimezone(OFFSET_ZONES[hours]).isoformat("T", "seconds")` writes."""
    return _local_seconds(moment, _OFFSET_SECONDS[hours]) + _OFFSET_SUFFIX[hours]


def utc_millis(moment: datetime) -> str:
    """`moment.astimezone(UTC).isoformat("T", "milliseconds").replace("+00:00", "Z")`, as utc_seconds writes the
    seconds (the CRM writes every timestamp so: 1.6 us through isoformat)."""
    return _local_seconds(moment, 0) + _MILLIS[moment.microsecond // 1000] + "Z"


def offset_millis(moment: datetime, hours: float) -> str:
    """`moment.astimezone(OFFSET_ZONES[hours]).isoformat("T", "milliseconds")` (whole-second offsets: the
    milliseconds are the instant's own)."""
    return _local_seconds(moment, _OFFSET_SECONDS[hours]) + _MILLIS[moment.microsecond // 1000] + _OFFSET_SUFFIX[hours]


def _local_seconds(moment: datetime, offset: int) -> str:
    """ "YYYY-MM-DDTHH:MM:SS" of the instant `moment` as a clock `offset` seconds ahead of UTC shows it."""
    if moment.tzinfo is UTC:  # its fields are UTC's: the day's ordinal and the second of the day, shifted
        day, second = moment.toordinal(), moment.hour * 3600 + moment.minute * 60 + moment.second + offset
        if not 0 <= second < 86_400:
            day, second = day + second // 86_400, second % 86_400
    else:
        # Within 2**33 seconds of 1970 (the years 1698 to 2242) a float timestamp keeps every microsecond, so its
        # floor is the instant's whole second; outside that range datetime formats it.
        stamp = moment.timestamp()
        if not -_EXACT_TIMESTAMPS < stamp < _EXACT_TIMESTAMPS:
            zone = UTC if offset == 0 else timezone(timedelta(seconds=offset))
            return moment.astimezone(zone).replace(tzinfo=None).isoformat("T", "seconds")
        day, second = divmod(math.floor(stamp) + offset, 86_400)
        day += _EPOCH_ORDINAL
    prefix = _DAY_PREFIX.get(day)
    if prefix is None:
        prefix = _DAY_PREFIX[day] = date.fromordinal(day).isoformat() + "T"
    return prefix + _CLOCK[second]


_EXACT_TIMESTAMPS = float(2**33)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DAY_PREFIX: dict[int, str] = {}  # a day's proleptic Gregorian ordinal -> "YYYY-MM-DDT"; a few thousand days at most
_CLOCK = tuple(f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60))
_MILLIS = tuple(f".{n:03d}" for n in range(1000))
_WALL_DAYS: dict[int, str] = {}  # a day's ordinal -> "YYYY-MM-DD "


def wall_seconds(moment: datetime) -> str:
    """`moment.strftime("%Y-%m-%d %H:%M:%S")`: its own wall date and time, in whatever zone it carries, a ninth of
    the time (strftime builds a time tuple and formats through the C library: 3.7 us a call)."""
    if moment.year < 1000:  # strftime does not pad such a year to four digits
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    day = moment.toordinal()
    prefix = _WALL_DAYS.get(day)
    if prefix is None:
        prefix = _WALL_DAYS[day] = date.fromordinal(day).isoformat() + " "
    return prefix + _CLOCK[moment.hour * 3600 + moment.minute * 60 + moment.second]


_OFFSET_SECONDS = {hours: round(hours * 3600) for hours in OFFSETS}
_OFFSET_SUFFIX = {hours: datetime(2000, 1, 1, tzinfo=zone).isoformat()[-6:] for hours, zone in OFFSET_ZONES.items()}


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
        self.rng = Stream(f"{seed}:{self.source}")
        # iso() is called for most timestamps written: the stream's methods and the rate it reads, kept here
        self._random, self._randbelow = self.rng.random, self.rng._randbelow
        self._mixed_offsets = truth.dirt.mixed_offsets
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
        if self._random() < self._mixed_offsets:
            hours = OFFSETS[self._randbelow(len(OFFSETS))]  # rng.choice(OFFSETS): the same draw, one call less
            if not millis:
                return offset_seconds(moment, hours)
            return offset_millis(moment, hours)
        if not millis:
            return utc_seconds(moment)
        return utc_millis(moment)

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
