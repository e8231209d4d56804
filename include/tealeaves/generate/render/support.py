"""Zendesk-shaped help-desk exports: tickets, users, organizations, comments, status history, ratings, SLA policies.

Each life's tickets become what Zendesk's API and Fivetran's zendesk connector hand over: the ticket itself,
its comments (the requester's opening comment, internal notes, the first public agent reply, the solving
reply), its status changes (`ticket_field_history`, as Fivetran names the table), and a good/bad satisfaction
rating. First reply and resolution times are not written anywhere: they are derived from comments and status
changes, the way Zendesk's own ticket metrics are, so the warehouse must recompute them to recover the truth.

After every life, a few tickets show the cases Zendesk's own rules decide (see docs/sources/support.md): deleted
tickets, tickets on hold, tickets an agent opened with a public comment, tickets solved without any status
history. They are written last, with an RNG of their own, so the lives' records are drawn as before.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from tealeaves.generate.calendar import MICROSECONDS, MILLISECONDS, add_business_minutes, business_minutes_between
from tealeaves.generate.fakes import Stream
from tealeaves.generate.life import Contact, Life, Ticket
from tealeaves.generate.render.base import Renderer, alias_domain, utc_seconds
from tealeaves.generate.sinks import JsonlSink
from tealeaves.generate.sla import SlaPolicy, sla_policies
from tealeaves.generate.spool import PickleSpool, RecordFile, SpooledMapping
from tealeaves.generate.world import Priority, Truth

SUBDOMAIN = "tealeaves-demo"
AGENT_COUNT = 8
USER_ID_BASE = 361_000_000_000
ORGANIZATION_ID_BASE = 362_000_000_000
COMMENT_ID_BASE = 363_000_000_000
EVENT_ID_BASE = 364_000_000_000
RATING_ID_BASE = 365_000_000_000
METRIC_EVENT_ID_BASE = 367_000_000_000
CES_FIELD_ID = 360_900_000_001  # the ticket custom field the CES survey answer is written to
ORGANIZATION_WITHOUT_EXTERNAL_ID = 0.06  # organizations created by hand in Zendesk, never linked to the CRM
ALIAS_DOMAIN_SHARE = 0.3  # organizations that list the company's alias domain too
INTERNAL_NOTE_SHARE = 0.4  # tickets with a private agent note before the first public reply
FOLLOW_UP_SHARE = 0.5  # tickets where the requester answers before the ticket is solved
PENDING_SHARE = 0.3  # unsolved tickets waiting on the requester at the export
CLOSED_SHARE = 0.85  # solved tickets already closed by the 4-day automation at the export
CLOSE_AFTER = timedelta(days=4)
# Zendesk cases written after the lives, each about this share of the lives' tickets (at least one each)
CASE_SHARE = 0.01
CASES = ("deleted", "hold", "agent_created", "solved_without_history", "priority_raised")
RAISED_FROM, RAISED_TO = "low", "urgent"  # the priority_raised case: opened low, made urgent soon after
RAISED_AFTER = timedelta(minutes=10)
RAISED_REPLY = timedelta(minutes=20)
CASE_SETTLED = timedelta(days=3)  # a case is modelled on a ticket this long before the export: its events are all in

TICKET_TYPES = {
    "bug_incident": ("incident", "problem"),
    "compliance_security": ("task", "question"),
    "feature_request": ("question", "task"),
    "sales_blocking": ("question", "task"),
    "feedback": ("question", "question"),
}
FEATURES = (
    "dashboard",
    "report builder",
    "CSV export",
    "API",
    "billing page",
    "user permissions",
    "alerts",
    "Salesforce integration",
    "search",
    "audit log",
    "SSO login",
    "mobile app",
)
SUBJECTS = {
    "bug_incident": (
        "{Feature} fails with an error since this morning",
        "Error 500 when opening the {feature}",
        "{Feature} shows the wrong totals",
        "Cannot save changes in the {feature}",
        "{Feature} is very slow today",
    ),
    "compliance_security": (
        "Security questionnaire from our {team} team",
        "Request for your SOC 2 report",
        "GDPR data deletion request",
        "Data retention and {feature} question",
        "Pen-test findings about the {feature}",
    ),
    "feature_request": (
        "Feature request: filters in the {feature}",
        "Could the {feature} support bulk edits?",
        "Request: schedule the {feature} weekly",
        "Idea for the {feature}",
    ),
    "sales_blocking": (
        "Blocking our rollout: {feature} limits",
        "We need the {feature} before we can sign",
        "Procurement asks about the {feature}",
        "Expansion on hold until the {feature} works for us",
    ),
    "feedback": (
        "Feedback on the new {feature}",
        "The {feature} update is great",
        "The {feature} is confusing",
        "A few thoughts about the {feature}",
    ),
}
TEAMS = ("IT", "security", "legal", "procurement", "compliance")
GOOD_COMMENTS = ("Quick and helpful, thanks!", "Solved my problem.", "Great support as always.", "", "")
BAD_COMMENTS = ("Took far too long.", "The issue is not really fixed.", "Nobody answered for days.", "", "")


class TicketShape(NamedTuple):
    """What a ticket record says beyond its life's ticket: its moments, text, status and people. A named tuple,
    not a frozen dataclass: one is made per ticket, and a frozen dataclass sets each of its twelve fields through
    object.__setattr__."""

    created: datetime
    updated: datetime
    ticket_type: str
    subject: str
    description: str
    status: str
    requester_id: int
    submitter_id: int
    assignee_id: int
    org_id: int
    ces: int | None
    priority: str | None = None  # the ticket record's priority when it is not its life ticket's


class CaseBase(NamedTuple):
    """What a Zendesk case takes from the life's ticket it is modelled on."""

    created_at: datetime
    kind: str
    priority: Priority
    channel: str
    segment: str
    org_id: int
    requester_id: int


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)
ONE_SECOND, ONE_MINUTE = timedelta(seconds=1), timedelta(minutes=1)
# what truth.json says first of each ticket's SLA (realised.support.sla), before the two verdicts
OUTCOME_HEAD = (
    "policy_id",
    "policy_title",
    "policy_version",
    "priority",
    "first_reply_target_minutes",
    "resolution_target_minutes",
    "business_hours",
)
# created_at (µs since the epoch), kind, priority, channel, segment, org, requester
CASE_BASE_LAYOUT = "<qBBBBqq"
NOT_DELETED = {"deleted": False}  # what a breach event adds


def _ceil_second(moment: datetime) -> datetime:
    micro = moment.microsecond
    if not micro:
        return moment
    if moment.tzinfo is UTC:  # the clock's instants: UTC, where arithmetic is exact and replace()'s keyword slow
        return moment - MILLISECONDS[micro // 1000] - MICROSECONDS[micro % 1000] + ONE_SECOND
    return moment.replace(microsecond=0) + timedelta(seconds=1)


def _floor_second(moment: datetime) -> datetime:
    micro = moment.microsecond
    if not micro:
        return moment
    if moment.tzinfo is UTC:
        return moment - MILLISECONDS[micro // 1000] - MICROSECONDS[micro % 1000]
    return moment.replace(microsecond=0)


class SupportRenderer(Renderer):
    source = "support"

    def __init__(self, root: Path, truth: Truth, seed: int, scratch: Path) -> None:
        super().__init__(root, truth, seed, scratch)
        self.tickets = self.jsonl("tickets.jsonl", key="id", cosmetic=("subject",))
        self.users = self.jsonl("users.jsonl", key="id", cosmetic=("name",))
        self.organizations = self.jsonl("organizations.jsonl", key="id", cosmetic=("name",))
        self.comments = self.jsonl("ticket_comments.jsonl", key="id", cosmetic=("body",))
        self.field_history = self.jsonl("ticket_field_history.jsonl", key="id", cosmetic=("value",))
        self.ratings = self.jsonl("satisfaction_ratings.jsonl", key="id", cosmetic=("comment",))
        self.next_user = self.next_organization = self.next_comment = self.next_event = self.next_rating = 0
        # Ticket metric events (the applied SLA policy, as GET /api/v2/incremental/ticket_metric_events returns
        # them) from an RNG of their own, so every other file is drawn exactly as without them.
        self.sla = sla_policies(truth)
        self.metric_events = JsonlSink(
            self.root, "ticket_metric_events.jsonl", truth.dirt, Stream(f"{seed}:support:sla"), key="id"
        )
        self.sinks["ticket_metric_events.jsonl"] = self.metric_events
        self.next_metric_event = 0
        # ticket id -> the applied policy, its targets and what the ticket's clocks did (realised()["sla"])
        self.sla_outcomes = PickleSpool(scratch / "support_sla_outcomes.msgpack", plain=True)
        self._outcome_heads: dict[tuple[int, datetime, str], tuple[Any, ...]] = {}
        self._applied_slas: dict[tuple[int, datetime, int, bool], dict[str, Any]] = {}
        self.sla_truth: SpooledMapping | None = None
        self.policy_files: dict[str, int] = {}
        self.counts = {
            "tickets": 0,
            "first_reply_breached": 0,
            "solved_tickets": 0,
            "satisfaction_ratings": 0,
            "internal_notes": 0,
            "organizations_without_external_id": 0,
            **{f"{case}_tickets": 0 for case in CASES},
        }
        self.agents = [self._agent(n) for n in range(AGENT_COUNT)]
        # The export's latest event (as written: whole seconds), the moment the marts measure at by default, and
        # the first-reply deadlines of tickets still unanswered in the export, judged against it in planted().
        self.latest_event: datetime | None = None
        self.unanswered_deadlines: list[datetime] = []
        # tickets the cases may be modelled on (opened well before the export), on disk, and how many tickets
        # there were in all; an RNG of their own
        self.case_bases = RecordFile(scratch / "support_case_bases.bin", CASE_BASE_LAYOUT)
        self.tickets_seen = 0
        self.kinds = [kind.name for kind in truth.support.kinds]
        self.priorities = list(truth.support.priorities)
        # a priority's name -> its first index in `priorities` (what the case bases record)
        self._priority_index: dict[str, int] = {}
        for index, priority in enumerate(self.priorities):
            self._priority_index.setdefault(priority.name, index)
        self._months: dict[date, str] = {}  # merchant day -> its month's first day, ISO
        self.channels = [channel for channel, _ in truth.support.channels]
        self.segments = [segment.name for segment in truth.segments]
        self.case_rng = Stream(f"{seed}:support:cases")
        self.last_ticket_number = 0
        # kind -> merchant month (first day, ISO) -> tickets opened
        self.tickets_by_kind: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))

    def planted(self) -> dict[str, Any]:
        """The counts, with unanswered tickets breached when their target has passed at the export's latest event.

        The export was taken at its end, but nothing in it says so: what it shows is its latest event, the moment
        Zendesk-shaped reporting measures open tickets at (dbt macro support_as_of). `as_of` records that moment.
        """
        counts: dict[str, Any] = dict(self.counts)
        if self.latest_event is not None:
            counts["first_reply_breached"] += sum(d <= self.latest_event for d in self.unanswered_deadlines)
            counts["as_of"] = self.latest_event.isoformat().replace("+00:00", "Z")
        return counts

    def realised(self) -> dict[str, Any]:
        """Tickets opened per kind (the ticket's kind tag) and merchant month of creation, every one exported."""
        return {
            "tickets": {kind: dict(sorted(months.items())) for kind, months in sorted(self.tickets_by_kind.items())},
            "sla": self._sla_truths(),
        }

    def _sla_truths(self) -> SpooledMapping:
        """Each ticket's `_sla_truth` by ticket number, in number order; judged once the export's latest event is
        known, from the outcomes spooled as the tickets were written (their numbers ascend: lives' tickets in the
        order the simulator numbered them, then the cases after the last of them)."""
        if self.sla_truth is None:
            self.sla_truth = SpooledMapping(self.scratch / "support_sla.json")
            previous = None
            for number, outcome in self.sla_outcomes.drain():
                if previous is not None and number <= previous:
                    raise RuntimeError(f"ticket {number} written after ticket {previous}: SLA truth out of order")
                self.sla_truth.add(str(number), self._sla_truth(outcome))
                previous = number
        return self.sla_truth

    def _sla_truth(self, outcome: tuple[Any, ...]) -> dict[str, Any]:
        """A ticket's applied policy and targets, and whether each target was breached at the export's latest
        event (the moment the marts measure at): a stopped clock is breached when more than the target elapsed
        to its stop; a running one once the target has elapsed at that moment, else it is not yet judged (null)."""
        head, applied_exported, history_exported, (first_reply, resolution), created, solve_unknown = outcome
        judged = dict(zip(OUTCOME_HEAD, head, strict=True))
        judged["applied_event_exported"], judged["priority_history_exported"] = applied_exported, history_exported
        judged["first_reply_breached"] = self._clock_breached(first_reply, created)
        judged["resolution_breached"] = None if solve_unknown else self._clock_breached(resolution, created)
        return judged

    def _clock_breached(self, clock: tuple[Any, ...], created: datetime) -> bool | None:
        """One clock's verdict (see _sla_truth): final once stopped, else judged at the export's latest event."""
        stop, target, business_hours, stopped_breached = clock
        if stop is not None:
            return stopped_breached
        if self.latest_event is not None and self._elapsed(created, self.latest_event, business_hours) >= target:
            return True
        return None

    @staticmethod
    def _elapsed(start: datetime, stop: datetime, business_hours: bool) -> float:
        if business_hours:
            return business_minutes_between(start, stop)
        return (stop - start).total_seconds() / 60

    # -- ids -----------------------------------------------------------------------------------------------
    def _user_id(self) -> int:
        self.next_user += 1
        return USER_ID_BASE + self.next_user

    def _url(self, kind: str, ident: int) -> str:
        return f"https://{SUBDOMAIN}.zendesk.com/api/v2/{kind}/{ident}.json"

    # -- people --------------------------------------------------------------------------------------------
    def _agent(self, number: int) -> int:
        user_id = self._user_id()
        first, last = self.fake.first_name(), self.fake.last_name()
        joined = datetime(2024, 1, 8, 9, tzinfo=UTC) + timedelta(days=30 * number)
        self.users.write(
            {
                "id": user_id,
                "url": self._url("users", user_id),
                "name": f"{first} {last}",
                "email": f"{first}.{last}@{SUBDOMAIN}.example".lower(),
                "role": "admin" if number == 0 else "agent",
                "organization_id": None,
                "created_at": self.iso(joined),
                "updated_at": self.iso(joined),
                "active": True,
                "verified": True,
                "time_zone": "UTC",
                "locale": "en-US",
                "tags": ["support_team"],
            }
        )
        return user_id

    def _organization(self, life: Life) -> int:
        self.next_organization += 1
        org_id = ORGANIZATION_ID_BASE + self.next_organization
        domains = [life.domain]
        if self.rng.random() < ALIAS_DOMAIN_SHARE:
            domains.append(alias_domain(life.domain))
        external_id: str | None = str(life.company_id)
        if self.rng.random() < ORGANIZATION_WITHOUT_EXTERNAL_ID:
            external_id = None
            self.counts["organizations_without_external_id"] += 1
        self.organizations.write(
            {
                "id": org_id,
                "url": self._url("organizations", org_id),
                "external_id": external_id,
                "name": life.name,
                "domain_names": domains,
                "details": f"{life.segment.name} customer, {life.country}",
                "notes": "",
                "group_id": None,
                "shared_tickets": False,
                "shared_comments": False,
                "tags": [life.segment.name],
                "created_at": self.iso(life.signed_at),
                "updated_at": self.iso(life.signed_at),
            }
        )
        return org_id

    def _end_user(self, contact: Contact, org_id: int, joined: datetime) -> int:
        user_id = self._user_id()
        self.users.write(
            {
                "id": user_id,
                "url": self._url("users", user_id),
                "name": f"{contact.first_name} {contact.last_name}",
                "email": self.email(contact.email),
                "role": "end-user",
                "organization_id": org_id,
                "created_at": self.iso(joined),
                "updated_at": self.iso(joined),
                "active": True,
                "verified": self.rng.random() < 0.8,
                "time_zone": "UTC",
                "locale": "en-US",
                "tags": [],
            }
        )
        return user_id

    # -- tickets -------------------------------------------------------------------------------------------
    def customer(self, life: Life) -> None:
        org_id = self._organization(life)
        joined = life.signed_at + timedelta(0, 60 * self.rng.randint(5, 600))  # whole minutes
        users = {id(contact): self._end_user(contact, org_id, joined) for contact in life.contacts}
        for ticket in life.tickets:
            requester_id = users[id(ticket.requester)]
            self._ticket(life, ticket, org_id, requester_id)
            self.tickets_by_kind[ticket.kind][self._month_of(ticket.created_at)] += 1
            self.tickets_seen += 1
            if ticket.created_at + CASE_SETTLED < self.export_end:
                self.case_bases.append(
                    (ticket.created_at - EPOCH) // ONE_MICROSECOND,
                    self.kinds.index(ticket.kind),
                    self._priority_index[ticket.priority.name],
                    self.channels.index(ticket.channel),
                    self.segments.index(life.segment.name),
                    org_id,
                    requester_id,
                )
            self.last_ticket_number = max(self.last_ticket_number, ticket.number)

    def _month_of(self, moment: datetime) -> str:
        """The merchant month (its first day, ISO) of an instant, remembered per day (replace(day=1) is slow)."""
        day = self.clock.day_of(moment)
        month = self._months.get(day)
        if month is None:
            month = self._months[day] = day.replace(day=1).isoformat()
        return month

    def _case_base(self, index: int) -> CaseBase:
        created, kind, priority, channel, segment, org_id, requester_id = self.case_bases[index]
        return CaseBase(
            EPOCH + timedelta(microseconds=created),
            self.kinds[kind],
            self.priorities[priority],
            self.channels[channel],
            self.segments[segment],
            org_id,
            requester_id,
        )

    def _subject(self, kind: str) -> str:
        feature = self.rng.choice(FEATURES)
        template = self.rng.choice(SUBJECTS[kind])
        return template.format(feature=feature, Feature=feature[0].upper() + feature[1:], team=self.rng.choice(TEAMS))

    def _reply_moment(self, ticket: Ticket) -> datetime:
        """The first reply rounded to the second away from the target, so the written file keeps the breach."""
        assert ticket.first_reply_at is not None
        return (
            _ceil_second(ticket.first_reply_at) if ticket.first_reply_breached else _floor_second(ticket.first_reply_at)
        )

    def _first_reply_deadline(self, ticket: Ticket) -> datetime:
        return self._deadline(ticket.created_at, ticket.priority.first_reply_minutes, ticket.priority.business_hours)

    @staticmethod
    def _deadline(start: datetime, target: int, business_hours: bool) -> datetime:
        """The moment a target is past: elapsed > target from here on (business minutes when business_hours)."""
        if business_hours:
            return add_business_minutes(start, target)
        return start + timedelta(0, 60 * target)  # whole minutes

    def _metric_event(
        self, number: int, metric: str, kind: str, moment: datetime, time: str, extra: dict[str, Any] | None = None
    ) -> None:
        """One ticket metric event at `moment` (written as `time`), when the export covers that moment (the
        incremental export's start_time)."""
        start = self.sla.metric_events_from
        if moment >= self.export_end or (start is not None and moment < start):
            return
        self.next_metric_event += 1
        record = {
            "id": METRIC_EVENT_ID_BASE + self.next_metric_event,
            "ticket_id": number,
            "metric": metric,
            "instance_id": 1,
            "type": kind,
            "time": time,
        }
        if extra is not None:
            record.update(extra)
        self.metric_events.write(record)

    def _sla_events(
        self,
        number: int,
        created: datetime,
        policy: SlaPolicy,
        priority: Any,
        reply_stop: datetime | None,
        solved: datetime | None,
        solve_unknown: bool = False,
        first_applied: tuple[SlaPolicy, Any] | None = None,
        applied_at: datetime | None = None,
    ) -> None:
        """Zendesk's ticket metric events for the two SLA metrics: the clock starts (activate), the policy is
        applied with its target (apply_sla), the metric is fulfilled (fulfill) or its target passes first
        (breach). Records the ticket's applied policy and outcome for truth.json. A ticket whose priority changed
        at `applied_at` got `first_applied` at creation and `policy` (re-applied, Zendesk's last word) then."""
        created = _floor_second(created)
        applied_at = created if applied_at is None else applied_at
        # four of a ticket's events (each clock's activate and apply_sla) are at its creation: written once
        created_text = utc_seconds(created)
        applied_text = created_text if applied_at == created else utc_seconds(applied_at)
        clocks = []
        for metric, target, stop, key in (
            ("reply_time", priority.first_reply_minutes, reply_stop, "first_reply"),
            ("resolution_time", priority.resolution_minutes, solved, "resolution"),
        ):
            breached = stop is None or self._elapsed(created, stop, priority.business_hours) > target
            self._metric_event(number, metric, "activate", created, created_text)
            if first_applied is not None:
                earlier_policy, earlier = first_applied
                earlier_target = earlier.first_reply_minutes if key == "first_reply" else earlier.resolution_minutes
                sla = self._applied_sla(earlier_policy, earlier_target, earlier.business_hours)
                self._metric_event(number, metric, "apply_sla", created, created_text, sla)
            sla = self._applied_sla(policy, target, priority.business_hours)
            self._metric_event(number, metric, "apply_sla", applied_at, applied_text, sla)
            if breached and not (key == "resolution" and solve_unknown):
                deadline = self._deadline(created, target, priority.business_hours)  # only a breach needs it
                self._metric_event(number, metric, "breach", deadline, utc_seconds(deadline), NOT_DELETED)
            if stop is not None:
                self._metric_event(number, metric, "fulfill", stop, utc_seconds(stop))
            # a stopped clock's verdict is final: kept, so truth.json need not count its business minutes again
            clocks.append((stop, target, priority.business_hours, breached))
        applied_exported = self.sla.metric_events_from is None or applied_at >= self.sla.metric_events_from
        outcome = (self._outcome_head(policy, priority), applied_exported, first_applied is not None)
        self.sla_outcomes.append((number, (*outcome, tuple(clocks), created, solve_unknown)))

    def _outcome_head(self, policy: SlaPolicy, priority: Priority) -> tuple[Any, ...]:
        """The applied policy and targets as truth.json lists them (OUTCOME_HEAD), one tuple per policy version
        and priority: the spool pickles a ticket's outcome as a tuple that shares it, not as a dict of its own."""
        key = (policy.id, policy.updated_at, priority.name)  # a policy version's targets for that priority
        head = self._outcome_heads.get(key)
        if head is None:
            head = self._outcome_heads[key] = (
                policy.id,
                policy.title,
                policy.updated_at.isoformat().replace("+00:00", "Z"),
                priority.name,
                priority.first_reply_minutes,
                priority.resolution_minutes,
                priority.business_hours,
            )
        return head

    def _applied_sla(self, policy: SlaPolicy, target: int, business_hours: bool) -> dict[str, Any]:
        """What an apply_sla event adds: its `sla`, the target and the policy that set it. One per policy version,
        target and clock, shared by the events that write it (written as it is, never changed)."""
        key = (policy.id, policy.updated_at, target, business_hours)
        applied = self._applied_slas.get(key)
        if applied is None:
            applied = self._applied_slas[key] = {
                "sla": {
                    "target": target,
                    "target_in_seconds": target * 60,
                    "business_hours": business_hours,
                    "policy": {"id": policy.id, "title": policy.title, "description": policy.description},
                }
            }
        return applied

    def _ticket(self, life: Life, ticket: Ticket, org_id: int, requester_id: int) -> None:
        """Write the ticket as the help desk shows it at the export: later replies, solves and ratings left out."""
        rng, cutoff = self.rng, self.export_end
        assignee_id = rng.choice(self.agents)
        subject = self._subject(ticket.kind)
        description = f"{subject}. {self.fake.paragraph(nb_sentences=2)}"
        created = ticket.created_at
        comments: list[tuple[datetime, int, bool, str]] = [(created, requester_id, True, description)]
        statuses: list[tuple[datetime, str, int]] = [(created, "new", requester_id)]
        reply = self._reply_moment(ticket) if ticket.first_reply_at is not None else None
        if reply is not None and reply >= cutoff:
            reply = None  # not answered yet when the export was taken
        solved = None
        if reply is not None:
            if rng.random() < INTERNAL_NOTE_SHARE:
                note_at = created + (reply - created) * rng.uniform(0.1, 0.9)
                comments.append((note_at, assignee_id, False, f"Internal: {self.fake.sentence()}"))
                self.counts["internal_notes"] += 1
            comments.append((reply, assignee_id, True, f"Hi, thanks for reaching out. {self.fake.sentence()}"))
            statuses.append((reply, "open", assignee_id))
        if ticket.solved_at is not None and reply is not None:
            solved = max(_ceil_second(ticket.solved_at), reply + ONE_SECOND)
            if solved >= cutoff:
                solved = None
        if solved is not None:
            if rng.random() < FOLLOW_UP_SHARE:
                follow_up = reply + (solved - reply) * rng.uniform(0.2, 0.8)
                comments.append((follow_up, requester_id, True, self.fake.sentence()))
            comments.append((solved, assignee_id, True, f"This is now resolved. {self.fake.sentence()}"))
            statuses.append((solved, "solved", assignee_id))
            if rng.random() < CLOSED_SHARE and solved + CLOSE_AFTER < cutoff:
                statuses.append((solved + CLOSE_AFTER, "closed", assignee_id))
        elif reply is not None and rng.random() < PENDING_SHARE and reply + ONE_MINUTE < cutoff:
            statuses.append((reply + ONE_MINUTE, "pending", assignee_id))
        rating_at = None
        if ticket.csat is not None and solved is not None:
            rating_at = solved + timedelta(0, 60 * rng.randint(10, 48 * 60))  # whole minutes
            if rating_at >= cutoff:
                rating_at = None
        # the latest moment of any comment, status or rating: the largest tuple of each list starts with its latest
        updated = max(max(comments)[0], max(statuses)[0], rating_at or created)
        ticket_type = TICKET_TYPES[ticket.kind][0 if rng.random() < 0.8 else 1]
        self._write_ticket(
            ticket.number,
            life.segment.name,
            ticket,
            TicketShape(
                created=created,
                updated=updated,
                ticket_type=ticket_type,
                subject=subject,
                description=description,
                status=statuses[-1][1],
                requester_id=requester_id,
                submitter_id=requester_id,
                assignee_id=assignee_id,
                org_id=org_id,
                ces=ticket.ces if solved is not None else None,
            ),
            comments,
            statuses,
        )
        if ticket.sla_policy is not None:
            self._sla_events(ticket.number, created, ticket.sla_policy, ticket.priority, reply, solved)
        self.counts["tickets"] += 1
        if reply is not None:
            self.counts["first_reply_breached"] += ticket.first_reply_breached
        else:  # judged at the export's latest event, known only once every ticket is written
            self.unanswered_deadlines.append(self._first_reply_deadline(ticket))
        self.counts["solved_tickets"] += solved is not None
        if rating_at is not None:
            self.next_rating += 1
            rating_id = RATING_ID_BASE + self.next_rating
            self.ratings.write(
                {
                    "id": rating_id,
                    "url": self._url("satisfaction_ratings", rating_id),
                    "ticket_id": ticket.number,
                    "requester_id": requester_id,
                    "assignee_id": assignee_id,
                    "group_id": None,
                    "score": ticket.csat,
                    "comment": rng.choice(GOOD_COMMENTS if ticket.csat == "good" else BAD_COMMENTS),
                    "created_at": self.iso(rating_at),
                    "updated_at": self.iso(rating_at),
                }
            )
            self.counts["satisfaction_ratings"] += 1

    def _write_ticket(
        self,
        number: int,
        segment: str,
        ticket: Ticket | CaseBase,
        shape: TicketShape,
        comments: list[tuple[datetime, int, bool, str]],
        statuses: list[tuple[datetime, str, int]],
        priorities: tuple[tuple[datetime, str, int], ...] = (),
    ) -> None:
        """The ticket record, its comments, its status history (none for an empty `statuses`) and its priority
        history (Fivetran's ticket_field_history rows with field_name priority; none for an empty `priorities`)."""
        latest = _floor_second(shape.updated).astimezone(UTC)  # the file writes whole seconds
        self.latest_event = latest if self.latest_event is None else max(self.latest_event, latest)
        self.tickets.write(
            {
                "id": number,
                "url": self._url("tickets", number),
                "external_id": None,
                "via": {"channel": ticket.channel, "source": {"rel": None}},
                "created_at": self.iso(shape.created),
                "updated_at": self.iso(shape.updated),
                "type": shape.ticket_type,
                "subject": shape.subject,
                "raw_subject": shape.subject,
                "description": shape.description,
                "priority": shape.priority or ticket.priority.name,
                "status": shape.status,
                "requester_id": shape.requester_id,
                "submitter_id": shape.submitter_id,
                "assignee_id": shape.assignee_id,
                "organization_id": shape.org_id,
                "group_id": None,
                "tags": [ticket.kind, segment, f"channel_{ticket.channel}"],
                "custom_fields": [{"id": CES_FIELD_ID, "value": shape.ces}],
                "is_public": True,
            }
        )
        for moment, author_id, public, body in sorted(comments):
            self.next_comment += 1
            self.comments.write(
                {
                    "id": COMMENT_ID_BASE + self.next_comment,
                    "type": "Comment",
                    "ticket_id": number,
                    "author_id": author_id,
                    "body": body,
                    "public": public,
                    "via": {"channel": ticket.channel if author_id == shape.requester_id else "web"},
                    "created_at": self.iso(moment),
                }
            )
        for field_name, changes in (("status", statuses), ("priority", priorities)):
            previous = None
            for moment, value, user_id in changes:
                self.next_event += 1
                self.field_history.write(
                    {
                        "id": EVENT_ID_BASE + self.next_event,
                        "ticket_id": number,
                        "field_name": field_name,
                        "value": value,
                        "previous_value": previous,
                        "updated": self.iso(moment),
                        "user_id": user_id,
                    }
                )
                previous = value

    # -- Zendesk cases ---------------------------------------------------------------------------------------
    def _plant_cases(self) -> None:
        """A few tickets per Zendesk case, modelled on lives' tickets opened well before the export.

        deleted: a ticket record with status deleted and nothing else (Zendesk's export keeps the record; its
        reports leave it out), not counted in `tickets`. hold: answered, then on hold (unsolved). agent_created:
        an agent opens the ticket with a public comment a second after its creation, the requester answers, and
        the agent's next public comment is the first reply (Zendesk's rule), then it is solved. solved_without_history:
        answered and solved in its comments, status solved, but no status history: its solve moment is unknown.
        priority_raised: opened low and made urgent ten minutes later (both in its priority history), answered and
        solved: Zendesk re-applies the SLA policy at the change, so the urgent targets are the ones it is held to.
        """
        rng = self.case_rng
        bases = len(self.case_bases)
        if not bases:
            self.case_bases.close()
            return
        each = max(1, round(CASE_SHARE * self.tickets_seen))
        for case in CASES:
            # random.sample picks by index, so sampling the indices picks the same tickets as sampling the list
            for index in rng.sample(range(bases), min(each, bases)):
                self.last_ticket_number += 1
                self._case_ticket(case, self.last_ticket_number, self._case_base(index))
                self.counts[f"{case}_tickets"] += 1
        self.case_bases.close()

    def _case_ticket(self, case: str, number: int, base: CaseBase) -> None:
        rng, org_id, requester_id = self.case_rng, base.org_id, base.requester_id
        created = _floor_second(base.created_at) + timedelta(hours=2)
        reply = created + timedelta(minutes=rng.randint(30, 600))
        settled = reply + timedelta(hours=1)
        agent = rng.choice(self.agents)
        subject = f"{base.kind.replace('_', ' ').capitalize()}: follow-up"
        description = f"{subject}. {self.fake.sentence()}"
        opening = (created, requester_id, True, description)
        answer = (reply, agent, True, f"Hi, thanks for reaching out. {self.fake.sentence()}")
        submitter, status, ces = requester_id, "open", None
        if case == "deleted":
            comments: list[tuple[datetime, int, bool, str]] = []
            statuses: list[tuple[datetime, str, int]] = []
            status, updated = "deleted", settled
        elif case == "hold":
            comments = [opening, answer]
            statuses = [(created, "new", requester_id), (reply, "open", agent), (settled, "hold", agent)]
            status, updated = "hold", settled
        elif case == "agent_created":
            submitter = agent
            comments = [
                (created + timedelta(seconds=1), agent, True, description),
                (created + timedelta(minutes=20), requester_id, True, self.fake.sentence()),
                answer,
                (settled, agent, True, f"This is now resolved. {self.fake.sentence()}"),
            ]
            statuses = [(created, "open", agent), (settled, "solved", agent)]
            status, updated = "solved", settled
            self.counts["solved_tickets"] += 1
        elif case == "solved_without_history":
            comments = [opening, answer, (settled, agent, True, f"This is now resolved. {self.fake.sentence()}")]
            statuses = []
            status, updated = "solved", settled
        else:  # priority_raised: answered 20 minutes in (within urgent's target, so the urgent priorities'
            # attainment stays the planted one), solved an hour later
            reply, settled = created + RAISED_REPLY, created + RAISED_REPLY + timedelta(hours=1)
            answer = (reply, agent, True, answer[3])
            comments = [opening, answer, (settled, agent, True, f"This is now resolved. {self.fake.sentence()}")]
            statuses = [(created, "new", requester_id), (reply, "open", agent), (settled, "solved", agent)]
            status, updated = "solved", settled
            self.counts["solved_tickets"] += 1
        raised = case == "priority_raised"
        priorities = (
            ((created, RAISED_FROM, requester_id), (created + RAISED_AFTER, RAISED_TO, agent)) if raised else ()
        )
        shape = TicketShape(
            created=created,
            updated=updated,
            ticket_type=rng.choice(TICKET_TYPES[base.kind]),
            subject=subject,
            description=description,
            status=status,
            requester_id=requester_id,
            submitter_id=submitter,
            assignee_id=agent,
            org_id=org_id,
            ces=ces,
            priority=RAISED_TO if raised else None,
        )
        self._write_ticket(number, base.segment, base, shape, comments, statuses, priorities)
        if case == "deleted":
            return
        self.counts["tickets"] += 1
        self.tickets_by_kind[base.kind][self._month_of(created)] += 1
        # the policy Zendesk applies when this ticket is created (it may be a later version than its base's)
        tags = [base.kind, base.segment]
        first_applied, applied_at = None, created
        if raised:  # Zendesk applies the low policy at creation and re-applies at the change to urgent
            first_applied = self.sla.applied(created, RAISED_FROM, tags)
            applied_at = created + RAISED_AFTER
        policy, priority = self.sla.applied(applied_at, RAISED_TO if raised else base.priority.name, tags)
        solved = None if case == "hold" else settled
        self._sla_events(
            number,
            created,
            policy,
            priority,
            reply,
            solved,
            case == "solved_without_history",
            first_applied,
            applied_at,
        )
        waited = self._elapsed(created, reply, priority.business_hours)
        self.counts["first_reply_breached"] += waited > priority.first_reply_minutes

    # -- SLA policies --------------------------------------------------------------------------------------
    def finish(self, end: date) -> None:
        """The Zendesk cases (after every life), then the SLA policies, as GET /api/v2/slas/policies returns them:
        one JSON document per export of the policies. The API holds only the current policies, so their history is
        the exports a help desk kept: `sla_policies.json` is the current one, and each earlier version is the
        export taken before the policies changed, `sla_policies_until_<day>.json` (every policy's `updated_at`
        says when its version took effect)."""
        self._plant_cases()
        self.root.mkdir(parents=True, exist_ok=True)
        versions = self.sla.versions()
        for index, (_, policies) in enumerate(versions):
            later = versions[index + 1][0] if index + 1 < len(versions) else None
            name = "sla_policies.json" if later is None else f"sla_policies_until_{later.date().isoformat()}.json"
            document = {
                "sla_policies": [self._policy_record(policy) for policy in sorted(policies, key=lambda p: p.position)],
                "next_page": None,
                "previous_page": None,
                "count": len(policies),
            }
            (self.root / name).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
            self.policy_files[name] = len(policies)

    def _policy_record(self, policy: SlaPolicy) -> dict[str, Any]:
        return {
            "id": policy.id,
            "url": self._url("slas/policies", policy.id),
            "title": policy.title,
            "description": policy.description,
            "position": policy.position,
            "filter": policy.filter,
            "policy_metrics": [
                {"priority": name, "metric": metric, "target": target, "business_hours": p.business_hours}
                for name, p in policy.targets.items()
                for metric, target in (
                    ("first_reply_time", p.first_reply_minutes),
                    ("total_resolution_time", p.resolution_minutes),
                )
            ],
            "created_at": policy.created_at.isoformat().replace("+00:00", "Z"),
            "updated_at": policy.updated_at.isoformat().replace("+00:00", "Z"),
        }

    def close(self) -> dict[str, dict[str, int]]:
        counts = super().close()
        for name, records in self.policy_files.items():
            counts[f"{self.source}/{name}"] = {"records": records}
        return counts
