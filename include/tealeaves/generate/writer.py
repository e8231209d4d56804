"""Stream synthetic exports of every source to disk, one customer's whole life at a time.

Each customer's life is simulated and rendered when the customer is drawn, and what a renderer must keep until
the end (truth.json's per-customer parts, answers recorded later) waits in a spool on disk (generate.spool), so
memory stays flat however many customers are asked for. A seed fixes every byte of the output.

Every renderer draws from a random stream of its own and the world's draws never depend on a renderer, so the
renderers can run in separate processes, each simulating the same world and writing its own sources' files:
`workers` changes how long generation takes, never a byte of what it writes.
"""

from __future__ import annotations

import gc
import multiprocessing
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from tealeaves.generate.calendar import MerchantClock, add_months
from tealeaves.generate.fakes import Stream, seeded, weighted_picker
from tealeaves.generate.life import Contact, Life, LifeSimulator
from tealeaves.generate.render import renderers
from tealeaves.generate.render.crm import CrmRenderer
from tealeaves.generate.spool import SpooledMapping, format_spools, materialised, write_truth
from tealeaves.generate.world import Segment, Truth, default_truth

# Relative cost of each source's renderer (CPU seconds at 3,000 customers × 24 months), to share them out.
RENDER_COST = {"support": 4.9, "billing": 2.5, "crm": 0.6, "survey": 0.8}


def _days(start: date, end: date) -> Iterator[date]:
    day = start
    while day < end:
        yield day
        day += timedelta(days=1)


# str.translate's table for an ASCII name: what _slug's join writes for each ASCII character
_ASCII_SLUG = {code: "-" for code in range(128) if not chr(code).isalnum()}


def _slug(name: str) -> str:
    """`name` in lower case, each character that is not a letter or digit written as "-"."""
    lowered = name.lower()
    if lowered.isascii():  # Faker's English company names: one call instead of a generator over the name
        return lowered.translate(_ASCII_SLUG)
    return "".join(ch if ch.isalnum() else "-" for ch in lowered)


class World:
    """Draws who arrives each day and hands each life to every renderer."""

    def __init__(
        self, out: Path, truth: Truth, seed: int, end: date, scratch: Path, sources: list[str] | None = None
    ) -> None:
        self.truth, self.end = truth, end
        self.rng = Stream(seed)
        self.fake = seeded(seed)
        self.simulator = LifeSimulator(truth, self.rng, end)
        self.clock = self.simulator.clock
        self.renderers = [
            cls(out, truth, seed, scratch) for cls in renderers() if sources is None or cls.source in sources
        ]
        for renderer in self.renderers:
            renderer.exported_at(end)
        self.crm = next((r for r in self.renderers if isinstance(r, CrmRenderer)), None)
        self.next_company = 9_000_000_000
        self._segment_pickers: dict[str, Callable[[], Segment]] = {}
        # rng.choices(currencies, weights)[0] with the weights summed once: the same draw
        currencies = truth.billing.currencies
        self._currency = weighted_picker(self.rng, currencies, [weight for _, weight, _ in currencies])
        self.customers = self.leads = 0

    def _segment(self, channel: str) -> Segment:
        pick = self._segment_pickers.get(channel)
        if pick is None:  # the channel's segment mix as cumulative weights, made once (the same draws)
            mix = dict(next(c.segment_mix for c in self.truth.channels if c.name == channel))
            weights = [mix.get(s.name, 0.0) for s in self.truth.segments]
            pick = self._segment_pickers[channel] = weighted_picker(self.rng, self.truth.segments, weights)
        return pick()

    def _company(self, day: date) -> tuple[int, str, str, datetime]:
        self.next_company += self.rng.randint(1, 97)
        company_id = self.next_company
        name = self.fake.company()
        # Unique without remembering every domain: the record id's tail keeps memory constant.
        slug = _slug(name).strip("-").replace("--", "-")
        domain = f"{slug[:30].rstrip('-')}-{company_id % 100_000:05d}.{self.rng.choice(('com', 'io', 'co'))}"
        created = self.clock.at(day) - timedelta(self.rng.randint(0, 45), self.rng.randint(0, 86_399))  # days, seconds
        return company_id, name, domain, created

    def day(self, day: date) -> None:
        for renderer in self.renderers:
            renderer.day(day)
        for channel in self.truth.channels:
            if channel.daily_spend:
                spend = channel.daily_spend * (1 + self.rng.uniform(-1, 1) * self.truth.spend_noise)
                if self.crm is not None:
                    self.crm.record_spend(day, channel.name, spend)
                arrivals = self.simulator.poisson(spend / channel.true_cac)
            else:
                arrivals = self.simulator.poisson(channel.organic_daily_customers)
            for _ in range(arrivals):
                self.customer(day, channel.name)
            for _ in range(self.simulator.poisson(arrivals * self.truth.leads_per_customer)):
                self.lead(day, channel.name)

    def lead(self, day: date, channel: str) -> None:
        company_id, name, domain, created = self._company(day)
        segment = self._segment(channel)
        company = {
            "hs_object_id": company_id,
            "name": name,
            "domain": domain,
            "createdate": created,
            "lifecyclestage": self.rng.choice(("lead", "lead", "opportunity")),
            "hs_analytics_source": channel,
            "industry": self.fake.bs().split()[-1],
            "numberofemployees": self.rng.randint(*segment.employees),
            "country": self.fake.country_code(),
        }
        self.leads += 1
        for renderer in self.renderers:
            renderer.lead(company)

    def customer(self, day: date, channel: str) -> None:
        company_id, name, domain, created = self._company(day)
        segment = self._segment(channel)
        second = self.rng.randint(8 * 3600, 20 * 3600)  # of the merchant's day: sign-ups in local office hours
        signed = self.clock.at(day, time(second // 3600, second // 60 % 60, second % 60))
        contacts = []
        for _ in range(self.rng.randint(1, 3)):
            first, last = self.fake.first_name(), self.fake.last_name()
            contacts.append(Contact(first, last, f"{first}.{last}@{domain}".lower()))
        code, _, rate = self._currency()
        life = Life(
            company_id=company_id,
            name=name,
            domain=domain,
            channel=channel,
            segment=segment,
            employees=self.rng.randint(*segment.employees),
            country=self.fake.country_code(),
            industry=self.fake.bs().split()[-1],
            crm_created_at=created,
            signed_at=signed,
            currency=code,
            fx_to_usd=rate,
            annual=self.rng.random() < self.truth.billing.annual_plan_share,
            contacts=contacts,
        )
        self.simulator.run(life)
        self.customers += 1
        for renderer in self.renderers:
            renderer.customer(life)

    def close(self) -> dict[str, Any]:
        """What truth.json says of each source: {source: {"files", "planted", "realised"}}, and the counts."""
        for renderer in self.renderers:
            renderer.finish(self.end)
        files = {renderer.source: renderer.close() for renderer in self.renderers}
        return {
            "customers": self.customers,
            "leads": self.leads,
            "sources": {
                r.source: {"files": files[r.source], "planted": r.planted(), "realised": r.realised()}
                for r in self.renderers
            },
        }


def _write_sources(
    out: Path, truth: Truth, seed: int, start: date, end: date, scratch: Path, sources: list[str] | None
) -> dict[str, Any]:
    """Simulate the world from `start` to `end` and write the files of `sources` (None: every source)."""
    world = World(out, truth, seed, end, scratch, sources)
    # What lives until the end (the world, the renderers, Faker's word lists) is left out of every collection;
    # the rest is short-lived, per customer.
    gc.collect()
    gc.freeze()
    try:
        for day in _days(start, end):
            world.day(day)
        part = world.close()
    finally:
        gc.unfreeze()
    # truth.json's spooled parts laid out here, in this process: each source's "planted" and "realised" sit at
    # report[kind][source], a key at indent level 2 (generate() and write_truth)
    for source in part["sources"].values():
        for kind in ("planted", "realised"):
            format_spools(source[kind], 2)
    return part


def worker_groups(workers: int) -> list[list[str]]:
    """Sources shared out between `workers` processes, the costliest first to the least loaded."""
    sources = [cls.source for cls in renderers()]
    groups: list[list[str]] = [[] for _ in range(max(1, min(workers, len(sources))))]
    loads = [0.0] * len(groups)
    for source in sorted(sources, key=lambda name: -RENDER_COST.get(name, 1.0)):
        lightest = loads.index(min(loads))
        groups[lightest].append(source)
        loads[lightest] += RENDER_COST.get(source, 1.0)
    return [[s for s in sources if s in group] for group in groups if group]


def generate(
    out: Path,
    customers: int = 1000,
    start: date = date(2025, 1, 1),
    months: int = 12,
    seed: int = 42,
    truth: Truth | None = None,
    timezone: str | None = None,
    events_days: int | None = None,
    workers: int = 1,
    keep_report: bool = True,
    end: date | None = None,
) -> dict:
    """Write every source's exports plus truth.json under `out`; returns what truth.json holds.

    `workers` processes share the sources out (the bytes written are the same for any number). With
    `keep_report=False` the per-customer parts of truth.json are not read back into the returned dict (each is
    an empty dict there), so a large world never has to fit in memory.

    `timezone` (an IANA name) puts the merchant in that zone: its calendar, renewals and the export's midnight are
    local, so a world in Australia/Sydney tests that the marts bucket by the reporting time zone, not by UTC.
    `events_days` keeps only the subscription events of the export's last N days, as a backfill through Stripe's
    Events API gets them (it keeps 30 days); the subscriptions, invoices and truth.json describe the whole history.
    `end` (exclusive) cuts the world on any day instead of `months` after the start's month: an export taken
    inside a month, as most days' are.
    """
    if end is None:
        end = add_months(start.replace(day=1), months)
    elif end <= start:
        raise ValueError(f"the end ({end}) must come after the start ({start})")
    truth = truth or default_truth()
    if timezone is not None:
        truth = replace(truth, timezone=timezone)
    if events_days is not None:
        if events_days < 0:
            raise ValueError(f"events_days must be 0 or more, got {events_days}")
        truth = replace(truth, billing=replace(truth.billing, events_days=events_days))
    MerchantClock(truth.timezone)  # an unknown zone fails here, before any file is written
    truth = truth.scaled(customers, (end - start).days)
    revision = truth.support.sla_revision
    if revision is not None and revision.effective_on is None:
        days = (end - start).days
        revision = replace(
            revision,
            effective_on=(start + timedelta(days=round(days * revision.share_of_period))).isoformat(),
            metric_events_on=(start + timedelta(days=round(days * revision.metric_events_from_share))).isoformat(),
        )
        truth = replace(truth, support=replace(truth.support, sla_revision=revision))
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tealeaves-generate-") as scratch:
        groups = worker_groups(workers)
        if len(groups) == 1:
            parts = [_write_sources(out, truth, seed, start, end, Path(scratch), None)]
        else:
            context = multiprocessing.get_context("spawn")  # nothing of the caller's threads or state is copied
            with ProcessPoolExecutor(len(groups), mp_context=context) as pool:
                jobs = [
                    pool.submit(_write_sources, out, truth, seed, start, end, Path(scratch), group) for group in groups
                ]
                parts = [job.result() for job in jobs]
        sources = {source: part["sources"][source] for part in parts for source in part["sources"]}
        order = [cls.source for cls in renderers()]
        report = {
            "seed": seed,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "requested_customers": customers,
            "customers": parts[0]["customers"],
            "leads": parts[0]["leads"],
            "files": {name: counts for source in order for name, counts in sources[source]["files"].items()},
            "planted": {source: sources[source]["planted"] for source in order},
            "realised": {source: sources[source]["realised"] for source in order},
            "truth": truth.as_dict(),
        }
        write_truth(report, out / "truth.json")
        if keep_report:
            return materialised(report)
        return _without_spools(report)


def _without_spools(report: Any) -> Any:
    if isinstance(report, dict):
        return {key: _without_spools(value) for key, value in report.items()}
    return {} if isinstance(report, SpooledMapping) else report
