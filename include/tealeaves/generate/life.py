"""One customer's whole life, simulated month by month before any file is written.

Support and survey events come first in each month, because they change the churn hazard at the next
renewal: a detractor's NPS and SLA breaches make leaving likelier, as the truth says. Source writers then
render the same life into each system's export format, so every system tells one consistent story.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from statistics import NormalDist

from tealeaves.generate.calendar import MerchantClock, add_business_minutes, add_months
from tealeaves.generate.fakes import weighted_picker
from tealeaves.generate.sla import SlaPolicy, sla_policies
from tealeaves.generate.world import Priority, Segment, Truth


@dataclass
class Contact:
    first_name: str
    last_name: str
    email: str


@dataclass
class Period:
    """One billing period of the subscription."""

    number: int
    start: datetime
    end: datetime
    mrr_usd: float  # monthly recurring revenue in the reporting currency
    paid: bool
    change: str  # new | renewal | expansion | contraction


@dataclass
class Ticket:
    number: int
    created_at: datetime
    kind: str
    priority: Priority
    channel: str
    requester: Contact
    first_reply_at: datetime | None
    solved_at: datetime | None
    first_reply_breached: bool
    csat: str | None  # good | bad | None (not rated)
    ces: int | None  # 1-7 effort answer after solving, when given
    sla_policy: SlaPolicy | None = None  # the policy Zendesk applied at creation; `priority` holds its targets


@dataclass
class NpsAnswer:
    submitted_at: datetime
    respondent: Contact
    score: int


@dataclass
class Life:
    company_id: int
    name: str
    domain: str
    channel: str
    segment: Segment
    employees: int
    country: str
    industry: str
    crm_created_at: datetime
    signed_at: datetime
    currency: str
    fx_to_usd: float
    annual: bool
    contacts: list[Contact]
    periods: list[Period] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)
    nps: list[NpsAnswer] = field(default_factory=list)
    churned_at: datetime | None = None
    # Each renewal's churn draw: (the period end it decides, the probability of leaving there)
    churn_draws: list[tuple[datetime, float]] = field(default_factory=list)


def _breach_median(priority: Priority, sigma: float) -> float:
    """Median reply time (minutes) that makes P(reply > target) equal the planted breach rate."""
    return _median_for(priority.first_reply_minutes, priority.breach_rate, sigma)


@cache  # one per priority and policy version; asked for once per ticket
def _median_for(first_reply_minutes: int, breach_rate: float, sigma: float) -> float:
    z = NormalDist().inv_cdf(1 - breach_rate)
    return first_reply_minutes / math.exp(sigma * z)


REPLY_SIGMA = 0.8
RENEWAL_TIME = time(6)  # the merchant's local time of day at which renewals bill


class LifeSimulator:
    def __init__(self, truth: Truth, rng: random.Random, end: date) -> None:
        self.truth, self.rng, self.end = truth, rng, end
        self.clock = MerchantClock(truth.timezone)
        self.ticket_number = 0
        s = truth.support
        # Weighted draws with their cumulative weights made once: random.choices(population, weights) sums them
        # on every call and then draws exactly as these do.
        self._priority = weighted_picker(rng, list(s.priorities), [p.share for p in s.priorities])
        self._channel = weighted_picker(rng, [c for c, _ in s.channels], [w for _, w in s.channels])
        self._nps_score = weighted_picker(rng, range(11), truth.survey.nps_weights)
        self.sla = sla_policies(truth)
        self._kind_limits = [(kind, math.exp(-kind.monthly_rate)) for kind in s.kinds]  # poisson()'s limits

    def poisson(self, mean: float) -> int:
        # Knuth's method: exact, and fast for the small means used here.
        limit, k, p = math.exp(-mean), 0, self.rng.random()
        while p > limit:
            k += 1
            p *= self.rng.random()
        return k

    def run(self, life: Life) -> Life:
        """Fill in periods, tickets, NPS answers and the churn date of `life`."""
        rng, truth, retention, clock = self.rng, self.truth, self.truth.retention, self.clock
        mrr = life.periods[0].mrr_usd if life.periods else round(rng.uniform(*life.segment.mrr))
        day = clock.day_of(life.signed_at)  # renewals fall on the sign-up's local day of the month
        months_per_period = 12 if life.annual else 1
        month, latest_nps = 0, None
        change = "new"
        while True:
            start = life.signed_at if month == 0 else clock.at(add_months(day, month), RENEWAL_TIME)
            if clock.day_of(start) >= self.end:
                return life
            end = clock.at(add_months(day, month + months_per_period), RENEWAL_TIME)
            paid = month == 0 or rng.random() >= truth.billing.invoice_failure_rate
            life.periods.append(Period(len(life.periods), start, end, mrr, paid, change))
            breaches = 0
            for m in range(months_per_period):
                month_start = clock.at(add_months(day, month + m))
                if clock.day_of(month_start) >= self.end:
                    break
                breaches = self._support_month(life, month_start)
                answer = self._nps_month(life, month + m, month_start)
                if answer is not None:
                    latest_nps = answer
            month += months_per_period
            hazard = life.segment.monthly_churn * months_per_period
            if latest_nps is not None and latest_nps <= 6:
                hazard *= retention.detractor_churn_multiplier
            hazard *= retention.breach_churn_multiplier**breaches
            life.churn_draws.append((end, min(hazard, 0.95)))
            if rng.random() < min(hazard, 0.95):
                life.churned_at = end
                return life
            change, roll = "renewal", rng.random()
            if roll < life.segment.expansion_rate:
                mrr, change = round(mrr * rng.uniform(1.1, 1.5)), "expansion"
            elif roll < life.segment.expansion_rate + life.segment.contraction_rate:
                mrr, change = round(mrr * rng.uniform(0.6, 0.9)), "contraction"

    def _support_month(self, life: Life, month_start: datetime) -> int:
        """Tickets opened in the month; returns how many breached their first-reply target."""
        rng, support, breaches = self.rng, self.truth.support, 0
        random = rng.random
        for kind, limit in self._kind_limits:
            # self.poisson(kind.monthly_rate), inlined with its exp() made once: five draws per customer-month
            tickets, p = 0, random()
            while p > limit:
                tickets += 1
                p *= random()
            for _ in range(tickets):
                created = month_start + timedelta(0, rng.randint(0, 28 * 86_400 - 1))
                if self.clock.day_of(created) >= self.end:
                    continue
                priority = self._priority()
                # the targets of the policy Zendesk applies at creation (tags: the kind and the segment)
                policy, priority = self.sla.applied(created, priority.name, [kind.name, life.segment.name])
                reply_minutes = rng.lognormvariate(math.log(_breach_median(priority, REPLY_SIGMA)), REPLY_SIGMA)
                breached = reply_minutes > priority.first_reply_minutes
                breaches += breached
                first_reply = (
                    add_business_minutes(created, reply_minutes)
                    if priority.business_hours
                    else created + timedelta(minutes=reply_minutes)
                )
                solved = None
                if rng.random() < support.solved_share:
                    extra = rng.lognormvariate(math.log(priority.resolution_minutes / 3), 0.9)
                    solved = (
                        add_business_minutes(first_reply, extra)
                        if priority.business_hours
                        else first_reply + timedelta(minutes=extra)
                    )
                csat = ces = None
                if solved is not None and rng.random() < support.csat_response_rate:
                    good = support.csat_good_when_breached if breached else support.csat_good_when_met
                    csat = "good" if rng.random() < good else "bad"
                if solved is not None and rng.random() < self.truth.survey.ces_response_rate:
                    ces = min(7, max(1, round(rng.gauss(4.2 if breached else 5.6, 1.1))))
                self.ticket_number += 1
                life.tickets.append(
                    Ticket(
                        self.ticket_number,
                        created,
                        kind.name,
                        priority,
                        self._channel(),
                        rng.choice(life.contacts),
                        first_reply,
                        solved,
                        breached,
                        csat,
                        ces,
                        policy,
                    )
                )
        return breaches

    def _nps_month(self, life: Life, month_index: int, month_start: datetime) -> int | None:
        survey = self.truth.survey
        if month_index == 0 or month_index % survey.nps_every_months != survey.nps_every_months - 1:
            return None
        if self.rng.random() >= survey.nps_response_rate:
            return None
        submitted = month_start + timedelta(0, self.rng.randint(0, 27 * 86_400))
        if self.clock.day_of(submitted) >= self.end:
            return None
        score = self._nps_score()
        life.nps.append(NpsAnswer(submitted, self.rng.choice(life.contacts), score))
        return score
