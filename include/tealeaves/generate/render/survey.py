"""Survey exports: two Qualtrics CSVs (relationship NPS, post-ticket CES/CSAT) and a Typeform-shaped scorecard.

Qualtrics writes three header rows (field names, question texts, ImportId JSON) and its own
"YYYY-MM-DD HH:MM:SS" timestamps in the zone the ImportId row names (UTC here). Typeform's Responses API
returns one object per submission with `hidden` fields and an `answers` array keyed by each field's `ref`.

Responses are written in the order they were recorded, as both tools export them, and only once their time
has passed: a post-ticket survey answered after the export's end is not in the export.
"""

from __future__ import annotations

import string
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from tealeaves.generate.calendar import ONE_DAY, add_months
from tealeaves.generate.life import Contact, Life, Ticket
from tealeaves.generate.render.base import Renderer, wall_seconds
from tealeaves.generate.sinks import CsvSink
from tealeaves.generate.spool import DueSpool, SpooledMapping
from tealeaves.generate.world import Dirt, Truth

ALPHANUMERIC = string.ascii_letters + string.digits
QUALTRICS_TIME = "%Y-%m-%d %H:%M:%S"
UTC_ZONE = '"timeZone":"Z"'


def _import_id(name: str, zone: bool = False) -> str:
    return "{" + f'"ImportId":"{name}"' + ("," + UTC_ZONE if zone else "") + "}"


# Qualtrics' standard leading columns: (field name, question text in row 2, ImportId in row 3).
QUALTRICS_META = [
    ("StartDate", "Start Date", _import_id("startDate", zone=True)),
    ("EndDate", "End Date", _import_id("endDate", zone=True)),
    ("Status", "Response Type", _import_id("status")),
    ("Progress", "Progress", _import_id("progress")),
    ("Finished", "Finished", _import_id("finished")),
    ("RecordedDate", "Recorded Date", _import_id("recordedDate", zone=True)),
    ("ResponseId", "Response ID", _import_id("_recordId")),
    ("RecipientLastName", "Recipient Last Name", _import_id("recipientLastName")),
    ("RecipientFirstName", "Recipient First Name", _import_id("recipientFirstName")),
    ("RecipientEmail", "Recipient Email", _import_id("recipientEmail")),
    ("ExternalReference", "External Data Reference", _import_id("externalDataReference")),
    ("DistributionChannel", "Distribution Channel", _import_id("distributionChannel")),
    ("UserLanguage", "User Language", _import_id("userLanguage")),
]
# Questions, then embedded data. The last two fields stay free of commas and free text: a truncated line
# (the sinks' malformed row) then always loses whole fields.
NPS_QUESTIONS = [
    ("Q1", "How likely are you to recommend Tealeaves to a friend or colleague?", _import_id("QID1")),
    (
        "Q1_NPS_GROUP",
        "How likely are you to recommend Tealeaves to a friend or colleague? - Group",
        _import_id("QID1_NPS_GROUP"),
    ),
    ("Q2", "What is the main reason for your score?", _import_id("QID2_TEXT")),
    ("account_tier", "account_tier", _import_id("account_tier")),
    ("survey_wave", "survey_wave", _import_id("survey_wave")),
]
TICKET_QUESTIONS = [
    ("Q1", "Tealeaves made it easy for me to handle my issue.", _import_id("QID1")),
    ("Q2", "Overall, how satisfied were you with the support you received?", _import_id("QID2")),
    ("Q3", "Is there anything else you would like to tell us?", _import_id("QID3_TEXT")),
    ("ticket_id", "ticket_id", _import_id("ticket_id")),
    ("ticket_priority", "ticket_priority", _import_id("ticket_priority")),
]
NPS_GROUPS = {"detractor": 1, "passive": 2, "promoter": 3}  # Qualtrics' recode for the NPS group column

SCORECARD_CATEGORIES = ("product", "support", "reliability", "pricing", "onboarding")
HATED_REF = "hated_thing"  # long text: "What do we do that you hate?"
EXTERNAL_REFERENCE_MISSING = 0.05  # Qualtrics responses from the anonymous link: no ExternalReference
HATED_THING_ANSWERED = 0.85  # Typeform leaves a skipped optional question out of answers[]
NPS_REASON_GIVEN = 0.6
TICKET_COMMENT_GIVEN = 0.3

# The five classes of product input (docs/sources/survey.md maps them to the help desk's ticket kinds).
HATED_CLASSES = {
    "fault_correction": 0.35,
    "necessity": 0.10,
    "market_driven": 0.25,
    "opportunistic": 0.10,
    "responsiveness": 0.20,
}
AREAS = (
    "dashboard",
    "CSV export",
    "Salesforce sync",
    "billing page",
    "API",
    "mobile app",
    "report builder",
    "SSO login",
)
STANDARDS = ("SOC 2 Type II", "ISO 27001", "GDPR", "HIPAA", "DORA", "data residency in the EU")
FEATURES = (
    "AI-generated summaries",
    "a Snowflake connector",
    "cohort analysis",
    "usage-based pricing plans",
    "a Slack app",
    "custom roles",
    "predictive churn scores",
    "white-label reports",
)
HATED_TEMPLATES: dict[str, tuple[str, ...]] = {
    "fault_correction": (
        "The {area} keeps timing out, third time this month.",
        "Every release breaks something in the {area}. Last week it was down for half a day.",
        "I hate that the {area} silently drops rows and nobody notices until finance does.",
        "The outage on {day} cost us a board meeting. The {area} still throws a 500 now and then.",
        "Bugs. The {area} shows yesterday's numbers until I refresh three times.",
        "Data in the {area} is wrong after every sync and support says it is known.",
    ),
    "necessity": (
        "Our auditors need {standard} evidence and you still cannot give us a report.",
        "No {standard} means our security team blocks a wider rollout.",
        "You make us chase you for the {standard} paperwork every renewal.",
        "Audit logs are missing for admin changes; {standard} requires them and we are failing our review.",
        "We need SSO enforcement and {standard} before legal lets us add more users.",
    ),
    "market_driven": (
        "Everyone else in the market has {feature} and you don't.",
        "Still no {feature}? It has been on your roadmap page for a year.",
        "I hate exporting to spreadsheets because there is no {feature}.",
        "Our team expected {feature} by now; competitors like {competitor} ship it.",
        "Give us {feature}, it is where the whole industry is going.",
    ),
    "opportunistic": (
        "We lost a deal with {client} because you lack {feature}.",
        "{client} will only sign with us if you support {feature} by next quarter.",
        "Our biggest prospect ({client}) needs {feature} in the contract or we walk.",
        "Without {feature} we cannot close the {client} expansion, so please prioritise it.",
    ),
    "responsiveness": (
        "Honestly not much. The {area} could be a bit faster.",
        "The email notifications are far too many.",
        "I dislike how many clicks it takes to get to the {area}.",
        "The new navigation is confusing, the old menu was better.",
        "Nothing I hate, but the {area} colours are hard to read.",
        "Support replies are polite but slow to follow up.",
    ),
}
NPS_REASONS = {
    "promoter": (
        "Great product and a team that listens.",
        "Saves us hours every week.",
        "Support is fast and the {area} just works.",
        "Easy to use, our whole team adopted it.",
    ),
    "passive": (
        "Does the job, a bit pricey.",
        "Good, but the {area} needs work.",
        "Fine overall. Onboarding took longer than promised.",
        "Solid, few surprises.",
    ),
    "detractor": (
        "Too many bugs in the {area}.",
        "Price went up and value did not.",
        "Support takes days to reply.",
        "We are evaluating alternatives, the {area} is unreliable.",
    ),
}
TICKET_COMMENTS = (
    "Thanks, quick fix.",
    "Took too long, but solved.",
    "Had to explain the issue twice.",
    "Great agent, very patient.",
    "Please keep the ticket open until it is really fixed.",
)
PLATFORMS = ("other", "mobile", "other", "other")


def nps_category(score: int) -> str:
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


class QualtricsCsvSink(CsvSink):
    """A Qualtrics CSV export: three header rows, then one row per response.

    Row 1 holds the field names as Qualtrics writes them (`ResponseId`, `StartDate`, ...); the loader matches
    header names to contract columns case-insensitively.
    """

    def __init__(
        self,
        root: Path,
        name: str,
        spec: list[tuple[str, str, str]],
        dirt: Dirt,
        rng,
        key: str | None,
        cosmetic: tuple[str, ...] = (),
    ) -> None:
        self.spec = spec
        super().__init__(root, name, [field for field, _, _ in spec], dirt, rng, key, cosmetic)

    def header(self) -> None:
        self._main.write(self._line([field for field, _, _ in self.spec]))
        self._main.write(self._line([text for _, text, _ in self.spec]))
        self._main.write(self._line([import_id for _, _, import_id in self.spec]))


class SurveyRenderer(Renderer):
    source = "survey"

    def __init__(self, root: Path, truth: Truth, seed: int, scratch: Path) -> None:
        super().__init__(root, truth, seed, scratch)
        self.nps = self._qualtrics(
            "nps_responses.csv",
            QUALTRICS_META + NPS_QUESTIONS,
            cosmetic=("RecipientFirstName", "RecipientLastName", "Q2"),
        )
        self.post_ticket = self._qualtrics(
            "post_ticket_responses.csv",
            QUALTRICS_META + TICKET_QUESTIONS,
            cosmetic=("RecipientFirstName", "RecipientLastName", "Q3"),
        )
        self.scorecard = self.jsonl("scorecard.jsonl", key="token")
        self.form_fields = {ref: self._random_id(12) for ref in (*SCORECARD_CATEGORIES, HATED_REF)}
        # Responses not yet recorded, on disk under the day whose flush writes them (the first day whose
        # midnight is past their moment): (moment, sequence, sink name, record, what it counts as).
        self._pending = DueSpool(scratch / "survey_pending.msgpack", plain=True)
        self._sequence = 0
        self.today: date | None = None
        self.export_day: date | None = None
        # counted as the sinks count (a defaultdict: see Sink.counts)
        self.counts: dict[str, defaultdict[str, int]] = {
            "nps": defaultdict(int),
            "post_ticket": defaultdict(int),
            "scorecard": defaultdict(int),
        }
        self.hated: Counter[str] = Counter()
        # ResponseId -> score 0-10, of the responses in the export
        self.nps_answers = SpooledMapping(scratch / "survey_nps_answers.json")

    def _qualtrics(self, name: str, spec: list[tuple[str, str, str]], cosmetic: tuple[str, ...]) -> QualtricsCsvSink:
        sink = QualtricsCsvSink(self.root, name, spec, self.truth.dirt, self.rng, key="ResponseId", cosmetic=cosmetic)
        self.sinks[name] = sink
        return sink

    # -- what was planted --------------------------------------------------------------------------------------
    def planted(self) -> dict[str, Any]:
        """Counts of what the exports hold once de-duplicated, so tests can recompute NPS, CSAT, CES exactly."""
        return {
            "nps": dict(self.counts["nps"]),
            "post_ticket": dict(self.counts["post_ticket"]),
            "scorecard": dict(self.counts["scorecard"]),
            "hated_thing_classes": {name: self.hated[name] for name in HATED_CLASSES},
        }

    def realised(self) -> dict[str, Any]:
        """Every exported NPS response's score, by Qualtrics ResponseId."""
        return {"nps_answers": self.nps_answers}

    # -- hooks ---------------------------------------------------------------------------------------------
    def exported_at(self, end: date) -> None:
        super().exported_at(end)
        self.export_day = end

    def day(self, day: date) -> None:
        self._flush(day)
        self.today = day

    def finish(self, end: date) -> None:
        self._flush(end)
        self._pending.close()  # the rest was answered after the export was taken

    def customer(self, life: Life) -> None:
        for answer in life.nps:
            self._nps(life, answer.respondent, answer.submitted_at, answer.score)
        for ticket in life.tickets:
            if ticket.ces is not None and ticket.solved_at is not None:
                self._post_ticket(life, ticket)
        self._scorecards(life)

    # -- helpers -------------------------------------------------------------------------------------------
    def _random_id(self, length: int) -> str:
        return "".join(self.rng.choices(ALPHANUMERIC, k=length))

    def _later(self, moment: datetime, sink: str, record: dict[str, Any], count: tuple[Any, ...]) -> None:
        """Write the record once `moment` has passed: at the first day's flush whose midnight is after it."""
        self._sequence += 1
        first = (self.today or self.clock.day_of(moment)) + ONE_DAY  # no flush writes it before then
        day = max(first, self.clock.day_of(moment))
        while day > first and self.clock.at(day - ONE_DAY) > moment:
            day -= ONE_DAY
        while self.clock.at(day) <= moment:
            day += ONE_DAY
        if self.export_day is not None and day > self.export_day:
            return  # recorded after the export was taken: never written
        self._pending.add(day.toordinal(), (moment, self._sequence, sink, record, count))

    def _flush(self, day: date) -> None:
        """Write, in the order they were recorded, the responses recorded before `day`'s midnight."""
        for _, _, sink, record, count in sorted(self._pending.take(day.toordinal()), key=lambda p: p[:2]):
            self.sinks[sink].write(record)
            self._count(record, count)

    def _count(self, record: dict[str, Any], count: tuple[Any, ...]) -> None:
        """Count a response once written, by what `_later` was told it counts as."""
        kind, *facts = count
        counts = self.counts[kind]
        if kind == "nps":
            group, anonymous, score = facts
            counts["responses"] += 1
            counts[f"{group}s"] += 1
            counts["without_company_id"] += anonymous
            self.nps_answers.add(record["ResponseId"], score)
        elif kind == "post_ticket":
            anonymous, ces, csat = facts
            counts["responses"] += 1
            counts["without_company_id"] += anonymous
            counts["ces_sum"] += ces
            counts["ces_easy"] += ces >= 5
            counts["csat_satisfied"] += csat >= 4
        else:
            answers, hated_class = facts
            counts["submissions"] += 1
            counts["answers"] += answers
            if hated_class is not None:
                self.hated[hated_class] += 1

    def _fill(self, template: str) -> str:
        return template.format(
            area=self.rng.choice(AREAS),
            standard=self.rng.choice(STANDARDS),
            feature=self.rng.choice(FEATURES),
            competitor=self.fake.company(),
            client=self.fake.company(),
            # a weekday drawn before the export, not before today as fake.day_of_week() draws it: the same seed
            # writes the same text whenever it runs (one draw from the stream either way)
            day=self.fake.date("%A", end_datetime=self.export_end),
        )

    def _qualtrics_meta(self, life: Life, respondent: Contact, recorded: datetime) -> tuple[dict[str, Any], bool]:
        """The leading columns every Qualtrics response has; says whether ExternalReference was left empty."""
        started = recorded - timedelta(0, self.rng.randint(25, 900))
        anonymous = self.rng.random() < EXTERNAL_REFERENCE_MISSING
        return {
            "StartDate": wall_seconds(started),  # started.strftime(QUALTRICS_TIME)
            "EndDate": wall_seconds(recorded),
            "Status": "IP Address",
            "Progress": 100,
            "Finished": "True",
            "RecordedDate": wall_seconds(recorded + timedelta(0, self.rng.randint(0, 3))),
            "ResponseId": "R_" + self._random_id(15),
            "RecipientLastName": respondent.last_name,
            "RecipientFirstName": respondent.first_name,
            "RecipientEmail": self.email(respondent.email),
            "ExternalReference": None if anonymous else life.company_id,
            "DistributionChannel": "anonymous" if anonymous else "email",
            "UserLanguage": "EN",
        }, anonymous

    def _nps(self, life: Life, respondent: Contact, submitted: datetime, score: int) -> None:
        record, anonymous = self._qualtrics_meta(life, respondent, submitted)
        group = nps_category(score)
        local_day = self.clock.day_of(submitted)  # the survey wave is the merchant's quarter
        reason = None
        if self.rng.random() < NPS_REASON_GIVEN:
            reason = self._fill(self.rng.choice(NPS_REASONS[group]))
        record.update(
            {
                "Q1": score,
                "Q1_NPS_GROUP": NPS_GROUPS[group],
                "Q2": reason,
                "account_tier": life.segment.name,
                "survey_wave": f"{local_day.year}-Q{(local_day.month - 1) // 3 + 1}",
            }
        )
        self._later(submitted, self.nps.name, record, ("nps", group, anonymous, score))

    def _post_ticket(self, life: Life, ticket: Ticket) -> None:
        submitted = ticket.solved_at + timedelta(0, self.rng.randint(600, 3 * 86_400))
        record, anonymous = self._qualtrics_meta(life, ticket.requester, submitted)
        ces = ticket.ces
        # CSAT follows effort: 7 (very easy) sits near 5 (very satisfied), 1 near 1, with some noise.
        csat = min(5, max(1, round(1 + (ces - 1) * 4 / 6 + self.rng.gauss(0, 0.6))))
        comment = self.rng.choice(TICKET_COMMENTS) if self.rng.random() < TICKET_COMMENT_GIVEN else None
        record.update(
            {
                "Q1": ces,
                "Q2": csat,
                "Q3": comment,
                "ticket_id": ticket.number,
                "ticket_priority": ticket.priority.name,
            }
        )
        self._later(submitted, self.post_ticket.name, record, ("post_ticket", anonymous, ces, csat))

    def _scorecards(self, life: Life) -> None:
        """One chance a year to answer, a month to six months into each year of the customer's life."""
        if not life.periods:
            return
        signed, year = life.signed_at, 0
        while True:
            opens = self.clock.at(add_months(self.clock.day_of(signed), 12 * year), self.clock.wall_time(signed))
            if opens > life.periods[-1].start:
                return
            year += 1
            if self.rng.random() >= self.truth.survey.scorecard_response_rate:
                continue
            submitted = opens + timedelta(0, self.rng.randint(30 * 86_400, 180 * 86_400))
            if life.churned_at is not None and submitted >= life.churned_at:
                continue
            self._scorecard(life, submitted)

    def _scorecard(self, life: Life, submitted: datetime) -> None:
        respondent = self.rng.choice(life.contacts)
        token = "".join(self.rng.choices(string.ascii_lowercase + string.digits, k=32))
        mood = self.rng.gauss(7.0, 1.6)
        answers: list[dict[str, Any]] = [
            {
                "field": {"id": self.form_fields[category], "type": "opinion_scale", "ref": category},
                "type": "number",
                "number": min(10, max(1, round(mood + self.rng.gauss(0, 1.3)))),
            }
            for category in SCORECARD_CATEGORIES
        ]
        hated_class = None
        if self.rng.random() < HATED_THING_ANSWERED:
            hated_class = self.rng.choices(list(HATED_CLASSES), list(HATED_CLASSES.values()))[0]
            answers.append(
                {
                    "field": {"id": self.form_fields[HATED_REF], "type": "long_text", "ref": HATED_REF},
                    "type": "text",
                    "text": self._fill(self.rng.choice(HATED_TEMPLATES[hated_class])),
                }
            )
        landed = submitted - timedelta(0, self.rng.randint(60, 1200))
        record = {
            "landing_id": token,
            "token": token,
            "response_id": token,
            "landed_at": self.iso(landed),
            "submitted_at": self.iso(submitted),
            "metadata": {
                "user_agent": self.fake.user_agent(),
                "platform": self.rng.choice(PLATFORMS),
                "referer": "https://tealeaves.typeform.com/to/ScOrE25",
                "network_id": self._random_id(10).lower(),
                "browser": "default",
            },
            "hidden": {"email": self.email(respondent.email), "company_id": str(life.company_id)},
            "calculated": {"score": 0},
            "answers": answers,
        }
        self._later(submitted, self.scorecard.name, record, ("scorecard", len(answers), hated_class))
