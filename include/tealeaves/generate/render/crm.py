"""HubSpot-shaped CRM exports: companies, contacts, deals with their stage history and notes, campaigns, daily
marketing spend per channel, and finance's monthly department cost ledger (sales and marketing beside ad spend,
support, customer success, and the platform's cost of revenue).

Each customer's won deal closes at the moment the customer signs, which is when billing raises the first
paid invoice: the CRM and billing tell one story. Leads get contacts and, some of them, an open or lost deal.
Column order matters for the planted mess: a truncated line loses its last two fields, so the last two
columns of every file never hold text that may contain commas.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tealeaves.generate.calendar import MICROSECONDS, add_months, month_start
from tealeaves.generate.fakes import Stream
from tealeaves.generate.life import Life
from tealeaves.generate.render.base import Renderer, alias_domain
from tealeaves.generate.world import Truth

COMPANY_COLUMNS = [
    "hs_object_id",
    "name",
    "domain",
    "createdate",
    "lifecyclestage",
    "hs_analytics_source",
    "industry",
    "numberofemployees",
    "country",
    "hs_additional_domains",
]
SPEND_COLUMNS = ["spend_date", "channel", "campaign_id", "spend", "currency"]
CONTACT_COLUMNS = [
    "hs_object_id",
    "firstname",
    "lastname",
    "email",
    "associatedcompanyid",
    "createdate",
    "lifecyclestage",
]
DEAL_COLUMNS = [
    "hs_object_id",
    "dealname",
    "associatedcompanyid",
    "pipeline",
    "dealstage",
    "dealtype",
    "closed_lost_reason",
    "amount",
    "deal_currency_code",
    "hs_analytics_source",
    "createdate",
    "closedate",
]
STAGE_HISTORY_COLUMNS = ["deal_id", "pipeline", "dealstage", "source", "date_entered"]
CAMPAIGN_COLUMNS = ["campaign_id", "hs_name", "hs_campaign_status", "channel", "hs_start_date", "hs_end_date"]
TEAM_COST_COLUMNS = ["cost_month", "team", "cost_type", "description", "amount", "currency"]
NOTE_COLUMNS = ["hs_object_id", "hs_note_body", "deal_id", "associatedcompanyid", "hs_timestamp"]

PIPELINE = "default"
# HubSpot's default sales pipeline, in order; a deal ends in closedwon or closedlost, or is still open.
OPEN_STAGES = (
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
)
# Days from entering each open stage to entering the next, before the segment's factor.
STAGE_DAYS = ((1, 6), (2, 10), (3, 14), (2, 12), (1, 8))
SEGMENT_CYCLE = {"smb": 0.6, "mid_market": 1.2, "enterprise": 2.5}

BLOCKERS = (
    "we lose this deal without SSO",
    "no deal until we can show a SOC 2 Type II report",
    "their security team needs an audit log export before signing",
    "they will only sign if data stays in the EU",
    "procurement requires SCIM user provisioning",
    "blocked on a two-way Salesforce sync",
    "they need custom roles and permissions to roll out",
)
NOTES = (
    "Discovery call held; current tool is a spreadsheet",
    "Demo done for the operations team",
    "Sent pricing and the security questionnaire",
    "Champion is the head of customer success",
    "Follow-up booked with finance",
)
LOST_REASONS = ("No budget", "Went with a competitor", "Timing", "No decision")
# Finance's department cost ledger, one row per month, team and cost type: (team, cost type, share, description).
# Sales and marketing: cost outside ad spend, a share of one planted monthly amount.
SALES_COSTS = (
    ("sales", "salaries", 0.55, "Account executives and SDR salaries"),
    ("sales", "tools", 0.06, "Sales tooling and data subscriptions"),
    ("sales", "events_overhead", 0.04, "Travel and customer meetings"),
    ("marketing", "salaries", 0.25, "Marketing team salaries"),
    ("marketing", "tools", 0.07, "Marketing automation and analytics tools"),
    ("marketing", "events_overhead", 0.03, "Trade show booths and event overhead"),
)
# Retention teams: salaried, sized to the world's mean installed base; each team's monthly amount split by share.
RETENTION_COSTS = (
    ("support", "salaries", 0.85, "Support agents and team leads salaries"),
    ("support", "tools", 0.15, "Help desk and telephony subscriptions"),
    ("customer_success", "salaries", 0.90, "Customer success managers salaries"),
    ("customer_success", "tools", 0.10, "Customer success platform subscriptions"),
)
# Cost of revenue (team "platform"): hosting grows with the month's MRR above a fixed base; third-party fees
# (payment processing, data providers) are a share of the month's MRR.
COST_OF_REVENUE = (
    ("platform", "hosting", "Cloud hosting and infrastructure"),
    ("platform", "third_party_fees", "Payment processing and third-party service fees"),
)
# Ranges the planted parameters are drawn from (reporting currency).
SUPPORT_PER_CUSTOMER = (35.0, 60.0)  # monthly support team cost per customer of the mean installed base
SUCCESS_PER_CUSTOMER = (25.0, 50.0)  # the same for customer success
HOSTING_SHARE = (0.08, 0.14)  # hosting cost per unit of the month's MRR
HOSTING_BASE = (0.05, 0.10)  # fixed monthly hosting, as a share of the monthly sales and marketing amount
FEE_SHARE = (0.025, 0.035)  # third-party fees per unit of the month's MRR


class CrmRenderer(Renderer):
    source = "crm"

    def __init__(self, root: Path, truth: Truth, seed: int, scratch: Path) -> None:
        super().__init__(root, truth, seed, scratch)
        self.companies = self.csv("companies.csv", COMPANY_COLUMNS, key="hs_object_id", cosmetic=("name", "industry"))
        self.spend = self.csv("marketing_spend.csv", SPEND_COLUMNS, key=None, cosmetic=("channel", "campaign_id"))
        self.contacts = self.csv(
            "contacts.csv", CONTACT_COLUMNS, key="hs_object_id", cosmetic=("firstname", "lastname")
        )
        self.deals = self.csv(
            "deals.csv", DEAL_COLUMNS, key="hs_object_id", cosmetic=("dealname", "closed_lost_reason")
        )
        self.stage_history = self.csv("deal_stage_history.csv", STAGE_HISTORY_COLUMNS, key="deal_id")
        self.campaigns = self.csv("campaigns.csv", CAMPAIGN_COLUMNS, key="campaign_id", cosmetic=("hs_name",))
        self.team_costs = self.csv("team_costs.csv", TEAM_COST_COLUMNS, key=None, cosmetic=("description",))
        self.notes = self.csv("deal_notes.csv", NOTE_COLUMNS, key="hs_object_id", cosmetic=("hs_note_body",))
        self.campaign_days: dict[str, tuple[str, date, date]] = {}
        self.first_day: date | None = None
        self.today: date | None = None
        self.next_contact, self.next_deal, self.next_note = 51_000_000_000, 18_000_000_000, 72_000_000_000
        self.deal_outcomes = {"closedwon": 0, "closedlost": 0, "open": 0}
        self.blocker_notes = 0
        # Finance's monthly sales & marketing cost outside ad spend: salaries and tools outweigh the ad budget
        # (docs/sample-company.md), so it is planted at 1.0-1.6 times a month's paid spend.
        monthly_ad_spend = sum(c.daily_spend for c in truth.channels) * 365 / 12
        self.monthly_sales_cost = round(monthly_ad_spend * self.rng.uniform(1.0, 1.6), 2)
        # The other ledger parameters come from a stream of their own, so the rest of the CRM files stay as they were.
        cost_rng = Stream(f"{seed}:crm:team_costs")
        self.support_per_customer = round(cost_rng.uniform(*SUPPORT_PER_CUSTOMER), 2)
        self.success_per_customer = round(cost_rng.uniform(*SUCCESS_PER_CUSTOMER), 2)
        self.hosting_share = round(cost_rng.uniform(*HOSTING_SHARE), 4)
        self.hosting_base = round(self.monthly_sales_cost * cost_rng.uniform(*HOSTING_BASE), 2)
        self.fee_share = round(cost_rng.uniform(*FEE_SHARE), 4)
        # MRR (reporting currency) and paying customers at each month's end, from the lives seen: what drives
        # cost of revenue and sizes the retention teams.
        self.month_end_mrr: defaultdict[date, float] = defaultdict(float)
        self.month_end_customers: defaultdict[date, int] = defaultdict(int)
        self.monthly_team_costs: dict[str, dict[str, float]] = {}
        self.team_monthly_amounts: dict[str, float] = {}
        # What was realised per channel and merchant month: ad spend to the cent as each day's record says it
        # (before any export defect), and the customers who signed (their first paid invoice).
        self.paid_spend: defaultdict[str, defaultdict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        self.new_customers: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))

    def planted(self) -> dict[str, Any]:
        return {
            "deals": dict(self.deal_outcomes),
            "deal_blocker_notes": self.blocker_notes,
            "team_costs": {
                "currency": self.truth.currency.upper(),
                "months": len(self.monthly_team_costs),
                # Sales and marketing outside ad spend: the same amount every month, split by these shares.
                "sales_marketing_monthly_amount": self.monthly_sales_cost,
                "shares": {f"{team}/{kind}": share for team, kind, share, _ in (*SALES_COSTS, *RETENTION_COSTS)},
                # Retention teams: the same amount every month, per-customer rate × mean paying customers.
                "support_monthly_amount": self.team_monthly_amounts.get("support", 0.0),
                "customer_success_monthly_amount": self.team_monthly_amounts.get("customer_success", 0.0),
                "support_per_customer": self.support_per_customer,
                "customer_success_per_customer": self.success_per_customer,
                # Cost of revenue: hosting = base + share × month-end MRR; fees = share × month-end MRR.
                "hosting_base": self.hosting_base,
                "hosting_share_of_mrr": self.hosting_share,
                "third_party_fee_share_of_mrr": self.fee_share,
                # What the ledger holds, to the cent: month → team → amount.
                "by_month": self.monthly_team_costs,
            },
        }

    def realised(self) -> dict[str, Any]:
        """Per channel and merchant month (first day, ISO): USD ad spend and new customers, as they happened."""

        def by_month(table: dict[str, dict[str, Any]], convert: Any) -> dict[str, dict[str, Any]]:
            return {
                channel: {month: convert(value) for month, value in sorted(months.items())}
                for channel, months in sorted(table.items())
            }

        return {
            "currency": self.truth.currency.upper(),
            "paid_spend": by_month(self.paid_spend, float),
            "new_customers": by_month(self.new_customers, int),
        }

    # -- ids -----------------------------------------------------------------------------------------------
    def _contact_id(self) -> int:
        self.next_contact += self.rng.randint(1, 51)
        return self.next_contact

    def _deal_id(self) -> int:
        self.next_deal += self.rng.randint(1, 37)
        return self.next_deal

    def _note_id(self) -> int:
        self.next_note += self.rng.randint(1, 23)
        return self.next_note

    # -- hooks ---------------------------------------------------------------------------------------------
    def day(self, day: date) -> None:
        self.first_day = self.first_day or day
        self.today = day

    def record_spend(self, day: date, channel: str, amount: float) -> None:
        campaign_id = f"cmp_{channel.lower()}"
        _, first, _ = self.campaign_days.get(campaign_id, (channel, day, day))
        self.campaign_days[campaign_id] = (channel, first, day)
        spend = f"{amount:.2f}"
        self.spend.write(
            {
                "spend_date": day.isoformat(),
                "channel": channel,
                "campaign_id": campaign_id,
                "spend": spend,
                "currency": self.truth.currency.upper(),
            }
        )
        self.paid_spend[channel][month_start(day).isoformat()] += Decimal(spend)

    def lead(self, company: dict[str, Any]) -> None:
        created: datetime = company["createdate"]
        self.companies.write({**company, "createdate": self.iso(created, millis=True)})
        # The lead arrived today; its CRM story (contacts, any deal) happened between creation and now.
        now = self.clock.at(self.today or self.clock.day_of(created)) + timedelta(
            0, self.rng.randint(9 * 3600, 18 * 3600)
        )
        domain, stage = company["domain"], company["lifecyclestage"]
        for _ in range(self.rng.randint(1, 2)):
            first, last = self.fake.first_name(), self.fake.last_name()
            self._contact(first, last, f"{first}.{last}@{domain}".lower(), company["hs_object_id"], created, now, stage)
        if stage == "opportunity" or self.rng.random() < 0.2:
            outcome = "open" if stage == "opportunity" and self.rng.random() < 0.55 else "closedlost"
            segment = _segment_of(company["numberofemployees"])
            low, high = next(s.mrr for s in self.truth.segments if s.name == segment)
            amount = round(self.rng.uniform(low, high)) * 12
            self._deal(
                company_id=company["hs_object_id"],
                company_name=company["name"],
                channel=company["hs_analytics_source"],
                segment=segment,
                outcome=outcome,
                amount=amount,
                currency=self.truth.currency.upper(),
                company_created=created,
                finish=now,
            )

    def customer(self, life: Life) -> None:
        self._count_month_ends(life)
        self.new_customers[life.channel][month_start(self.clock.day_of(life.signed_at)).isoformat()] += 1
        self.companies.write(
            {
                "hs_object_id": life.company_id,
                "name": life.name,
                "domain": life.domain,
                "createdate": self.iso(life.crm_created_at, millis=True),
                "lifecyclestage": "customer",
                "hs_analytics_source": life.channel,
                "industry": life.industry,
                "numberofemployees": life.employees,
                "country": life.country,
                "hs_additional_domains": alias_domain(life.domain),
            }
        )
        for contact in life.contacts:
            self._contact(
                contact.first_name,
                contact.last_name,
                contact.email,
                life.company_id,
                life.crm_created_at,
                life.signed_at,
                "customer",
            )
        # First-year value of the plan signed: what the first invoice bills for an annual plan (10 months' price),
        # twelve monthly invoices otherwise; in the customer's currency, as billing charges it.
        first_mrr = life.periods[0].mrr_usd if life.periods else 0.0
        amount = round(first_mrr * (10 if life.annual else 12) / life.fx_to_usd, 2)
        self._deal(
            company_id=life.company_id,
            company_name=life.name,
            channel=life.channel,
            segment=life.segment.name,
            outcome="closedwon",
            amount=amount,
            currency=life.currency.upper(),
            company_created=life.crm_created_at,
            finish=life.signed_at,
        )

    def finish(self, end: date) -> None:
        for campaign_id, (channel, first, last) in sorted(self.campaign_days.items()):
            self.campaigns.write(
                {
                    "campaign_id": campaign_id,
                    "hs_name": f"{channel.replace('_', ' ').title()} - always on",
                    "hs_campaign_status": "active" if last >= end - timedelta(days=1) else "completed",
                    "channel": channel,
                    "hs_start_date": first.isoformat(),
                    "hs_end_date": last.isoformat(),
                }
            )
        months = []
        month = (self.first_day or end).replace(day=1)
        while month < end:
            months.append(month)
            month = add_months(month, 1)
        mean_customers = sum(self.month_end_customers[m] for m in months) / max(len(months), 1)
        self.team_monthly_amounts = {
            "support": round(mean_customers * self.support_per_customer, 2),
            "customer_success": round(mean_customers * self.success_per_customer, 2),
        }
        for month in months:
            self._team_cost_month(month)

    # -- records -------------------------------------------------------------------------------------------
    def _count_month_ends(self, life: Life) -> None:
        """Add the life's MRR and logo to every month whose end (the next month's first instant) it paid for."""
        for period in life.periods:
            month = month_start(self.clock.day_of(period.start))
            while True:
                month_end = self.clock.at(add_months(month, 1))
                if month_end >= period.end:
                    break
                if month_end >= period.start:
                    self.month_end_mrr[month] += period.mrr_usd
                    self.month_end_customers[month] += 1
                month = add_months(month, 1)

    def _team_cost_month(self, month: date) -> None:
        """Rows of one month; each team's rows add up to its planted monthly amount to the cent."""
        mrr = self.month_end_mrr[month]
        team_amounts = {
            "sales_marketing": self.monthly_sales_cost,
            **self.team_monthly_amounts,
        }
        lines: list[tuple[str, str, str, int]] = []
        for group, table in (
            ("sales_marketing", SALES_COSTS),
            ("support", [c for c in RETENTION_COSTS if c[0] == "support"]),
            ("customer_success", [c for c in RETENTION_COSTS if c[0] == "customer_success"]),
        ):
            cents = round(team_amounts[group] * 100)
            total_share = sum(share for _, _, share, _ in table)
            parts = [round(cents * share / total_share) for _, _, share, _ in table]
            parts[0] += cents - sum(parts)
            lines += [
                (team, kind, description, part) for (team, kind, _, description), part in zip(table, parts, strict=True)
            ]
        (team, hosting, hosting_text), (_, fees, fees_text) = COST_OF_REVENUE
        lines.append((team, hosting, hosting_text, round((self.hosting_base + self.hosting_share * mrr) * 100)))
        lines.append((team, fees, fees_text, round(self.fee_share * mrr * 100)))
        by_team: defaultdict[str, int] = defaultdict(int)
        for team, kind, description, part in lines:
            by_team[team] += part
            self.team_costs.write(
                {
                    "cost_month": month.isoformat(),
                    "team": team,
                    "cost_type": kind,
                    "description": description,
                    "amount": f"{part / 100:.2f}",
                    "currency": self.truth.currency.upper(),
                }
            )
        self.monthly_team_costs[month.isoformat()] = {team: cents / 100 for team, cents in by_team.items()}

    def _contact(
        self, first: str, last: str, email: str, company_id: int, after: datetime, before: datetime, stage: str
    ) -> None:
        created = after + (before - after) * self.rng.random()
        self.contacts.write(
            {
                "hs_object_id": self._contact_id(),
                "firstname": first,
                "lastname": last,
                "email": email,
                "associatedcompanyid": company_id,
                "createdate": self.iso(created, millis=True),
                "lifecyclestage": stage,
            }
        )

    def _timeline(self, steps: int, segment: str, floor: datetime, finish: datetime) -> list[datetime]:
        """When the deal entered each of `steps` stages, the last at `finish`, none before `floor`.

        Durations follow the segment's sales cycle; a cycle longer than the time since the company record
        was created is compressed to fit, since a deal never predates its company.
        """
        factor = SEGMENT_CYCLE.get(segment, 1.0)
        gaps = [timedelta(days=self.rng.uniform(*STAGE_DAYS[i]) * factor) for i in range(steps - 1)]
        window = (finish - floor) * 0.95
        total = sum(gaps, timedelta())
        if total > window:
            gaps = [gap * (window / total) for gap in gaps]
        moments = [finish]
        for gap in reversed(gaps):
            moments.append(moments[-1] - gap)
        return [_to_millisecond(m) for m in reversed(moments)]

    def _deal(
        self,
        *,
        company_id: int,
        company_name: str,
        channel: str,
        segment: str,
        outcome: str,
        amount: float,
        currency: str,
        company_created: datetime,
        finish: datetime,
    ) -> None:
        """One deal with its stage history and notes; `finish` is the close (won, lost) or now (open)."""
        deal_id = self._deal_id()
        if outcome == "closedwon":
            stages = [*OPEN_STAGES, "closedwon"]
        else:
            reached = list(OPEN_STAGES[: self.rng.randint(1, len(OPEN_STAGES))])
            stages = reached if outcome == "open" else [*reached, "closedlost"]
        entered = self._timeline(len(stages), segment, company_created, finish)
        self.deal_outcomes[outcome] += 1
        blocker = None
        if self.rng.random() < {"closedwon": 0.08, "closedlost": 0.35, "open": 0.25}[outcome]:
            blocker = self.rng.choice(BLOCKERS)
        lost_reason = None
        if outcome == "closedlost":
            lost_reason = "Missing feature" if blocker else self.rng.choice(LOST_REASONS)
        # An open deal's close date is the one the rep expects, still ahead.
        close = finish if outcome != "open" else finish + timedelta(self.rng.randint(14, 90))  # days
        self.deals.write(
            {
                "hs_object_id": deal_id,
                "dealname": f"{company_name} - new business",
                "associatedcompanyid": company_id,
                "pipeline": PIPELINE,
                "dealstage": stages[-1],
                "dealtype": "newbusiness",
                "closed_lost_reason": lost_reason,
                "amount": f"{amount:.2f}",
                "deal_currency_code": currency,
                "hs_analytics_source": channel,
                "createdate": self.iso(entered[0], millis=True),
                "closedate": self.iso(close, millis=True),
            }
        )
        for stage, moment in zip(stages, entered, strict=True):
            self.stage_history.write(
                {
                    "deal_id": deal_id,
                    "pipeline": PIPELINE,
                    "dealstage": stage,
                    "source": "CRM_UI",
                    "date_entered": self.iso(moment, millis=True),
                }
            )
        span = entered[-1] - entered[0]
        for _ in range(self.rng.randint(0, 2)):
            self._note(deal_id, company_id, self.rng.choice(NOTES), entered[0] + span * self.rng.random())
        if blocker is not None:
            self._note(deal_id, company_id, f"Deal blocker: {blocker}", entered[0] + span * self.rng.random())
            self.blocker_notes += 1

    def _note(self, deal_id: int, company_id: int, body: str, moment: datetime) -> None:
        self.notes.write(
            {
                "hs_object_id": self._note_id(),
                "hs_note_body": body,
                "deal_id": deal_id,
                "associatedcompanyid": company_id,
                "hs_timestamp": self.iso(moment, millis=True),
            }
        )


def _to_millisecond(moment: datetime) -> datetime:
    """`moment` cut to its millisecond (what the CRM's timestamps hold). The clock's instants are UTC, where
    subtracting the microseconds is exact and cheaper than replace()'s keyword argument."""
    if moment.tzinfo is UTC:
        return moment - MICROSECONDS[moment.microsecond % 1000]
    return moment.replace(microsecond=(moment.microsecond // 1000) * 1000)


def _segment_of(employees: int) -> str:
    """The segment staging derives from employee count (stg_crm__companies.segment)."""
    if employees >= 1000:
        return "enterprise"
    if employees >= 50:
        return "mid_market"
    return "smb"
