"""Support marts: ticket metrics and SLA attainment recover the generator's planted truth, and agree with the
same metrics recomputed in Python straight from the `raw` help-desk tables.

The Python side here shares nothing with the dbt models: it de-duplicates raw rows itself, finds first replies
and solves itself, and counts business minutes with its own day-by-day loop over the Mon-Fri 09:00-17:00 UTC
schedule. Both measure at the export's latest event (truth.json's planted.support.as_of), the moment the marts
infer when no as-of is pinned.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest

from tests.warehouse import query

SOLVED = {"solved", "closed"}
OPEN_AT, CLOSE_AT = time(9), time(17)  # the support schedule in the seed support_business_hours, UTC


def naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def latest_rows(url: str, table: str, columns: str) -> list[tuple]:
    """One row per id from a raw table, the newest batch and line winning (raw keeps every delivered copy)."""
    return query(
        url,
        f"""
        select distinct on (id) {columns}
        from raw.{table}
        where id is not null
        order by id, _batch_id desc, _source_line desc
        """,
    )


def business_minutes(start: datetime, end: datetime) -> float:
    """Minutes of [start, end) inside Mon-Fri 09:00-17:00 UTC, day by day (no holidays)."""
    seconds, day = 0.0, start.date()
    while day <= end.date():
        if day.weekday() < 5:
            overlap = min(end, datetime.combine(day, CLOSE_AT)) - max(start, datetime.combine(day, OPEN_AT))
            seconds += max(overlap.total_seconds(), 0.0)
        day += timedelta(days=1)
    return seconds / 60


@dataclass
class Target:
    minutes: int
    business_hours: bool

    def elapsed(self, start: datetime, stop: datetime) -> float:
        return business_minutes(start, stop) if self.business_hours else (stop - start).total_seconds() / 60

    def met(self, start: datetime, stop: datetime | None, as_of: datetime) -> bool | None:
        """Met by the stop; without a stop, breached once the target's moment has passed at the as-of moment (the
        clock may have paused exactly on it, overnight), else unknown."""
        if stop is not None:
            return self.elapsed(start, stop) <= self.minutes
        return False if self.elapsed(start, as_of) >= self.minutes else None


@dataclass
class TicketFacts:
    ticket_id: int
    priority: str
    month: date
    created_at: datetime
    first_reply_at: datetime | None
    is_solved: bool
    first_reply_sla_met: bool | None
    resolution_sla_met: bool | None
    csat: str | None
    status_changes: list[tuple[datetime, str]]


@pytest.fixture(scope="module")
def world(marts_world):
    url, _, truth = marts_world
    # the export's latest event, as the generator wrote it: the moment the marts measure at by default
    as_of = naive_utc(datetime.fromisoformat(truth["planted"]["support"]["as_of"]))
    return url, truth, as_of


@pytest.fixture(scope="module")
def recomputed(world) -> dict[int, TicketFacts]:
    """Every ticket's SLA outcome recomputed from raw, measured at the export end, against the targets the
    generator applied to it (truth.json: the policies change mid-period, and a ticket keeps the targets it got)."""
    url, truth, as_of = world
    targets: dict[tuple[int, str], Target] = {}
    for ticket_id, applied in truth["realised"]["support"]["sla"].items():
        business = applied["business_hours"]
        targets[(int(ticket_id), "first_reply_time")] = Target(applied["first_reply_target_minutes"], business)
        targets[(int(ticket_id), "total_resolution_time")] = Target(applied["resolution_target_minutes"], business)
    agents = {
        user_id
        for user_id, role in latest_rows(url, "support_users", "id, role")
        if (role or "").strip().lower() in {"agent", "admin"}
    }
    tickets = {
        ticket_id: (naive_utc(created_at), priority.strip().lower(), status.strip().lower(), submitter_id)
        for ticket_id, created_at, priority, status, submitter_id in latest_rows(
            url, "support_tickets", "id, created_at, priority, status, submitter_id"
        )
    }
    comments: dict[int, list[tuple[datetime, int, bool, bool]]] = defaultdict(list)
    for comment_id, ticket_id, author_id, public, created_at in latest_rows(
        url, "support_ticket_comments", "id, ticket_id, author_id, public, created_at"
    ):
        comments[ticket_id].append((naive_utc(created_at), comment_id, bool(public), author_id in agents))
    replies: dict[int, list[datetime]] = defaultdict(list)
    for ticket_id, written in comments.items():
        written.sort()
        # Zendesk: a ticket an agent creates with a public first comment is first replied to by the agent's next one
        opened_by_agent = ticket_id in tickets and tickets[ticket_id][3] in agents and written[0][2] and written[0][3]
        for moment, _, public, by_agent in written[1:] if opened_by_agent else written:
            if public and by_agent:
                replies[ticket_id].append(moment)
    changes: dict[int, list[tuple[datetime, int, str]]] = defaultdict(list)
    for change_id, ticket_id, field_name, value, updated in latest_rows(
        url, "support_ticket_field_history", "id, ticket_id, field_name, value, updated"
    ):
        if field_name.strip().lower() == "status" and naive_utc(updated) <= as_of:
            changes[ticket_id].append((naive_utc(updated), change_id, value.strip().lower()))
    ratings: dict[int, tuple[datetime, int, str]] = {}
    for rating_id, ticket_id, score, created_at in latest_rows(
        url, "support_satisfaction_ratings", "id, ticket_id, score, created_at"
    ):
        score = score.strip().lower()
        if score in {"good", "bad"} and naive_utc(created_at) <= as_of:
            ratings[ticket_id] = max(
                ratings.get(ticket_id, (datetime.min, 0, "")), (naive_utc(created_at), rating_id, score)
            )

    facts: dict[int, TicketFacts] = {}
    for ticket_id, (created, priority, record_status, _) in tickets.items():
        if created > as_of or record_status == "deleted":  # Zendesk's reporting leaves deleted tickets out
            continue
        all_replies = sorted(replies[ticket_id])
        first_reply = next((moment for moment in all_replies if moment <= as_of), None)
        first_solve = last_solve = previous = None
        status_changes = []
        for moment, _, status in sorted(changes[ticket_id]):
            if status in SOLVED and previous not in SOLVED:
                first_solve = first_solve or moment
                last_solve = moment
            status_changes.append((moment, status))
            previous = status
        if not status_changes:  # no history: the ticket record's status, since creation, but no known solve
            status_changes, previous = [(created, record_status)], record_status
        is_solved = previous in SOLVED
        solve_unknown = is_solved and last_solve is None
        reply_stop = min((m for m in (first_reply, first_solve) if m is not None), default=None)
        facts[ticket_id] = TicketFacts(
            ticket_id=ticket_id,
            priority=priority,
            month=created.date().replace(day=1),
            created_at=created,
            first_reply_at=first_reply,
            is_solved=is_solved,
            # a solve at an unknown moment leaves the clocks it would have stopped unjudged
            first_reply_sla_met=None
            if solve_unknown and reply_stop is None
            else targets[(ticket_id, "first_reply_time")].met(created, reply_stop, as_of),
            resolution_sla_met=None
            if solve_unknown
            else targets[(ticket_id, "total_resolution_time")].met(created, last_solve if is_solved else None, as_of),
            csat=ratings[ticket_id][2] if ticket_id in ratings else None,
            status_changes=status_changes,
        )
    return facts


def test_every_planted_ticket_is_in_the_marts_once(world):
    """Ticket count equals the generator's: de-duplication loses no ticket and keeps no copy."""
    url, truth, _ = world
    planted = truth["planted"]["support"]["tickets"]
    [(tickets, distinct)] = query(url, "select count(*), count(distinct ticket_id) from marts.fct_support_tickets")
    [(created,)] = query(url, "select sum(tickets_created) from marts.fct_support_performance_monthly")
    assert (tickets, distinct, created) == (planted, planted, planted)


def test_marts_measure_at_the_exports_latest_event(world):
    """The as-of moment the marts infer is the export's latest event (not midnight after the newest ticket's day,
    which would leave out the last day's solves): nothing in the export is dated after it."""
    url, _, as_of = world
    [(measured_as_of, moments)] = query(
        url,
        "select max(measured_as_of), count(distinct measured_as_of) from marts.fct_support_performance_monthly",
    )
    [(late_replies, late_solves)] = query(
        url,
        "select count(*) filter (where first_reply_at > %s), count(*) filter (where last_solved_at > %s)"
        " from marts.fct_support_tickets",
        measured_as_of,
        measured_as_of,
    )
    assert (measured_as_of, moments, late_replies, late_solves) == (as_of, 1, 0, 0)


def test_first_reply_attainment_per_priority_recovers_the_planted_breach_rate(world):
    """Attainment per priority is 1 - planted breach rate within 3 binomial standard errors.

    Each ticket breaches independently with the planted rate p, so attainment over n measurable tickets has
    standard error sqrt(p(1-p)/n): with ~90-960 tickets per priority that is 1-3 points; 3 standard errors
    leave a correct mart a ~0.3% chance to fail per priority, while a mart judging on calendar instead of
    business minutes (or the wrong target) is off by far more.
    """
    url, truth, _ = world
    measured = {
        priority: (met, n)
        for priority, met, n in query(
            url,
            """
            select priority, sum(first_reply_sla_met), sum(first_reply_sla_measured)
            from marts.fct_support_performance_monthly
            group by priority
            """,
        )
    }
    for planted in truth["truth"]["support"]["priorities"]:
        met, n = measured[planted["name"]]
        expected = 1 - planted["breach_rate"]
        tolerance = 3 * math.sqrt(expected * (1 - expected) / n)
        assert abs(met / n - expected) <= tolerance, (planted["name"], float(met / n), expected, tolerance)


def test_the_planted_breached_first_replies_are_found(world, recomputed):
    """Breached first replies found = planted, exactly.

    The export is a snapshot: a reply dated later is not in it, and the generator counts such a ticket as breached
    only if its target had passed by the export's latest event, the moment the mart measures at.
    """
    url, truth, _ = world
    planted = truth["planted"]["support"]["first_reply_breached"]
    [(found,)] = query(url, "select count(*) from marts.fct_support_tickets where not first_reply_sla_met")
    unanswered = [f for f in recomputed.values() if f.first_reply_at is None]
    assert len(unanswered) <= 10, "only tickets from the export's last days are still unanswered"
    assert found == planted


def test_sla_outcomes_match_python_recomputation_ticket_by_ticket(world, recomputed):
    """Every ticket's first-reply and resolution SLA outcome (met, breached, not yet measurable) is the one
    recomputed in Python from raw, with business minutes counted independently of the SQL."""
    url, _, _ = world
    mart = {
        ticket_id: (first_reply_met, resolution_met)
        for ticket_id, first_reply_met, resolution_met in query(
            url, "select ticket_id, first_reply_sla_met, resolution_sla_met from marts.fct_support_tickets"
        )
    }
    python = {t: (f.first_reply_sla_met, f.resolution_sla_met) for t, f in recomputed.items()}
    mismatches = {t: (mart.get(t), python.get(t)) for t in mart.keys() | python.keys() if mart.get(t) != python.get(t)}
    assert not mismatches, list(mismatches.items())[:10]


def test_first_reply_business_minutes_match_python(world, recomputed):
    """First reply times in business minutes agree with the independent Python count to the rounding (0.01)."""
    url, _, _ = world
    rows = query(
        url,
        """
        select ticket_id, first_reply_business_minutes from marts.fct_support_tickets
        where first_reply_at is not null
        """,
    )
    assert len(rows) == sum(1 for f in recomputed.values() if f.first_reply_at is not None)
    off = [
        (ticket_id, float(minutes), expected)
        for ticket_id, minutes in rows
        if abs(
            float(minutes)
            - (expected := business_minutes(recomputed[ticket_id].created_at, recomputed[ticket_id].first_reply_at))
        )
        > 0.006
    ]
    assert not off, off[:10]


def test_monthly_attainment_csat_and_backlog_match_python(world, recomputed):
    """Per month and priority, the monthly mart's SLA numerators and denominators, CSAT counts and backlog at
    the month's end are exactly those recomputed from raw."""
    url, _, as_of = world
    expected: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0] * 7)
    months = sorted({f.month for f in recomputed.values()})
    for f in recomputed.values():
        row = expected[(f.month, f.priority)]
        row[0] += f.first_reply_sla_met is not None
        row[1] += f.first_reply_sla_met is True
        row[2] += f.resolution_sla_met is not None
        row[3] += f.resolution_sla_met is True
        row[4] += f.csat is not None
        row[5] += f.csat == "good"
    for month in months:
        month_end = min(datetime.combine(date(month.year + month.month // 12, month.month % 12 + 1, 1), time()), as_of)
        for f in recomputed.values():
            status = next((s for moment, s in reversed(f.status_changes) if moment < month_end), None)
            if status is not None and status not in SOLVED:
                expected[(month, f.priority)][6] += 1
    rows = query(
        url,
        """
        select month, priority, sum(first_reply_sla_measured), sum(first_reply_sla_met), sum(resolution_sla_measured),
            sum(resolution_sla_met), sum(csat_ratings), sum(csat_good_ratings), sum(backlog_at_month_end)
        from marts.fct_support_performance_monthly
        group by month, priority
        """,
    )
    mart = {(month, priority): [int(v) for v in values] for month, priority, *values in rows}
    assert set(expected) <= set(mart)
    assert {key: values for key, values in mart.items() if values != expected.get(key, [0] * 7)} == {}


def test_zendesk_cases_are_measured_as_zendesk_does(world):
    """The generator's Zendesk cases: deleted tickets are in no mart; tickets on hold are unsolved; a ticket an agent
    opened with a public comment is first replied to by the agent's next public comment, 30 minutes to 10 hours
    later (never the opening comment a second after creation); a ticket solved without any status history is
    solved with unknown (null) resolution times."""
    url, truth, _ = world
    planted = truth["planted"]["support"]
    [(deleted_in_marts,)] = query(
        url,
        """
        select count(*) from marts.fct_support_tickets
        where ticket_id in (select id from raw.support_tickets where lower(status) = 'deleted')
        """,
    )
    [(hold, hold_solved)] = query(
        url,
        """
        select count(*), count(*) filter (where is_solved) from marts.fct_support_tickets
        where ticket_status = 'hold'
        """,
    )
    [(agent_opened, shortest, longest)] = query(
        url,
        """
        select count(*), min(first_reply_calendar_minutes), max(first_reply_calendar_minutes)
        from marts.fct_support_tickets
        where ticket_id in (
            select tickets.id from raw.support_tickets as tickets
            inner join raw.support_users as users on tickets.submitter_id = users.id
            where lower(trim(users.role)) in ('agent', 'admin')
        )
        """,
    )
    [(solved_unknown,)] = query(
        url,
        """
        select count(*) from marts.fct_support_tickets
        where is_solved and first_solved_at is null and full_resolution_calendar_minutes is null
        """,
    )
    assert planted["deleted_tickets"] > 0 and deleted_in_marts == 0
    assert (hold, hold_solved) == (planted["hold_tickets"], 0)
    assert agent_opened == planted["agent_created_tickets"] > 0
    assert shortest >= 30 and longest <= 600
    assert solved_unknown == planted["solved_without_history_tickets"] > 0


def test_targets_and_breaches_of_tickets_under_each_policy_version_are_the_truth(world):
    """The SLA policies change mid-period (new targets, and an enterprise policy put first). Every ticket's policy,
    targets and breaches are those the generator applied and realised (truth.json), for tickets created under
    each version: from Zendesk's apply_sla events where the ticket metric events export covers the ticket, else
    from the policy version in force when its priority was set (creation, or the change to urgent of the
    priority_raised case, which Zendesk re-applies the policy at)."""
    url, truth, _ = world
    applied = truth["realised"]["support"]["sla"]
    rows = query(
        url,
        """
        select ticket_id, sla_policy_id, first_reply_target_minutes, resolution_target_minutes,
            first_reply_target_in_business_hours, sla_evidence, first_reply_sla_met, resolution_sla_met
        from marts.fct_support_tickets
        """,
    )
    assert len(rows) == len(applied)
    per_version: dict[str, int] = defaultdict(int)
    off = []
    for ticket_id, policy, first_reply, resolution, business, evidence, first_met, resolution_met in rows:
        t = applied[str(ticket_id)]
        expected = (
            t["policy_id"],
            t["first_reply_target_minutes"],
            t["resolution_target_minutes"],
            t["business_hours"],
            evidence_of(t),
            None if t["first_reply_breached"] is None else not t["first_reply_breached"],
            None if t["resolution_breached"] is None else not t["resolution_breached"],
        )
        if (policy, first_reply, resolution, business, evidence, first_met, resolution_met) != expected:
            off.append((ticket_id, expected))
        per_version[t["policy_version"]] += 1
    assert not off, off[:10]
    assert len(per_version) == 2 and min(per_version.values()) > 100, per_version
    assert {"applied", "current_priority"} <= {e for *_, e, _, _ in rows} == {evidence_of(t) for t in applied.values()}


def evidence_of(applied: dict) -> str:
    """Zendesk's apply_sla event where exported; else the policy in force, matched on the priority history where
    the ticket has one (the priority_raised case), else on the current priority."""
    if applied["applied_event_exported"]:
        return "applied"
    return "policy_in_force" if applied["priority_history_exported"] else "current_priority"
