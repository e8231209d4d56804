"""The planted truth: how customers arrive, what they pay, how support treats them, what they say, when they leave.

The generator draws from these rates; `truth.json` records them so tests can check what the marts recover.
Money is in the reporting currency (USD) here; the billing writer converts to each customer's currency.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace


@dataclass(frozen=True)
class Channel:
    """An acquisition channel, named as HubSpot's `hs_analytics_source` names it."""

    name: str
    daily_spend: float  # reporting currency per day; 0 for organic channels
    true_cac: float | None  # expected spend per new customer; None for organic channels
    organic_daily_customers: float = 0.0  # new customers per day when the channel has no spend
    # Who the channel brings: segment name -> share of its new customers (and of its leads). Events and field
    # sales bring enterprise accounts, paid social small businesses; so CAC and LTV differ by channel together.
    segment_mix: tuple[tuple[str, float], ...] = (("smb", 0.6), ("mid_market", 0.3), ("enterprise", 0.1))

    @property
    def daily_customers(self) -> float:
        if self.true_cac:
            return self.daily_spend / self.true_cac
        return self.organic_daily_customers


@dataclass(frozen=True)
class Segment:
    name: str
    employees: tuple[int, int]
    mrr: tuple[float, float]  # monthly plan price range, reporting currency
    monthly_churn: float  # base hazard: chance a paying customer cancels at a renewal
    expansion_rate: float  # monthly chance MRR grows 10-50% (seats, a higher edition)
    contraction_rate: float  # monthly chance MRR shrinks 10-40%


@dataclass(frozen=True)
class TicketKind:
    """What a support ticket is about; the five kinds of customer input a help desk sees."""

    name: str
    monthly_rate: float  # tickets per paying customer per month


@dataclass(frozen=True)
class Priority:
    """A Zendesk priority with its SLA policy targets (minutes) and the breach rate the generator plants."""

    name: str
    share: float
    first_reply_minutes: int
    resolution_minutes: int
    business_hours: bool  # targets counted in the support team's business hours (Mon-Fri 09-17 UTC)
    breach_rate: float  # planted share of tickets whose first reply misses the target


@dataclass(frozen=True)
class SlaRevision:
    """The SLA policies change once, mid-period, as a help desk revises its targets: from that moment every policy
    gets a new version (same id, new `updated_at`) and a new policy for enterprise customers' tickets (tag
    `enterprise`) is put first. Zendesk applies a policy when a ticket is created and keeps it for that ticket,
    so tickets created before the change keep the old targets. Breach rates stay those of each priority: reply
    times are drawn against the target the ticket got."""

    share_of_period: float = 0.5  # the change takes effect this far into the generated period (UTC midnight)
    first_reply_minutes: tuple[tuple[str, int], ...] = (("high", 2 * 60), ("normal", 6 * 60))
    resolution_minutes: tuple[tuple[str, int], ...] = (("normal", 32 * 60),)
    enterprise_tag: str = "enterprise"
    enterprise_first_reply_minutes: tuple[tuple[str, int], ...] = (
        ("urgent", 30),
        ("high", 60),
        ("normal", 4 * 60),
        ("low", 8 * 60),
    )
    # the incremental ticket metric events export starts this far into the period: older tickets have no
    # apply_sla event in it, and their target is the policy version in force when they were created
    metric_events_from_share: float = 0.25
    # the two moments as dates (ISO, UTC midnight), filled in by generate() from the period
    effective_on: str | None = None
    metric_events_on: str | None = None


@dataclass(frozen=True)
class Support:
    kinds: tuple[TicketKind, ...] = (
        TicketKind("bug_incident", 0.30),
        TicketKind("compliance_security", 0.05),
        TicketKind("feature_request", 0.20),
        TicketKind("sales_blocking", 0.04),
        TicketKind("feedback", 0.10),
    )
    priorities: tuple[Priority, ...] = (
        Priority("urgent", 0.05, 60, 8 * 60, False, 0.10),
        Priority("high", 0.20, 4 * 60, 16 * 60, True, 0.15),
        Priority("normal", 0.55, 8 * 60, 40 * 60, True, 0.10),
        Priority("low", 0.20, 24 * 60, 80 * 60, True, 0.05),
    )
    channels: tuple[tuple[str, float], ...] = (("email", 0.5), ("web", 0.3), ("chat", 0.15), ("api", 0.05))
    csat_response_rate: float = 0.3  # solved tickets that get a good/bad rating
    csat_good_when_met: float = 0.88
    csat_good_when_breached: float = 0.55
    solved_share: float = 0.93  # the rest are still open at the export
    sla_revision: SlaRevision | None = SlaRevision()


@dataclass(frozen=True)
class Survey:
    nps_every_months: int = 3  # relationship NPS survey cadence after signup
    nps_response_rate: float = 0.4
    # P(score) for 0..10: 25% detractors (0-6), 30% passives (7-8), 45% promoters (9-10).
    nps_weights: tuple[float, ...] = (0.02, 0.01, 0.02, 0.02, 0.03, 0.05, 0.10, 0.12, 0.18, 0.22, 0.23)
    ces_response_rate: float = 0.2  # after a solved ticket, a 1-7 effort question
    scorecard_response_rate: float = 0.5  # yearly scorecard per customer


@dataclass(frozen=True)
class Retention:
    detractor_churn_multiplier: float = 2.0  # hazard × this while the latest NPS answer is 0-6
    breach_churn_multiplier: float = 1.5  # hazard × this per SLA breach in the month before a renewal


@dataclass(frozen=True)
class Billing:
    invoice_failure_rate: float = 0.03  # renewal charges that fail (invoice left open)
    # Customer currency mix; FX is reporting-currency units per one unit of the customer currency.
    currencies: tuple[tuple[str, float, float], ...] = (("usd", 0.7, 1.0), ("eur", 0.2, 1.08), ("gbp", 0.1, 1.27))
    annual_plan_share: float = 0.2  # billed yearly at 10× the monthly price
    refund_rate: float = 0.01  # paid invoices refunded in full later
    # Subscription events only from the export's last N days, as a backfill through Stripe's Events API sees them
    # (it lists events going back up to 30 days); None writes every event since the first sign-up.
    events_days: int | None = None


@dataclass(frozen=True)
class AddOnPurchases:
    """One-off add-on purchases (usage credits, extra seats for a project), billed as Stripe invoices without a
    subscription. Non-contractual, so planted exactly as BG/NBD and Gamma-Gamma assume (docs/ltv.md): from a
    first purchase, a customer buys at their own weekly rate lambda ~ Gamma(r, alpha) and after each repeat
    purchase leaves the add-on habit for good with probability p ~ Beta(a, b); each purchase is worth
    Gamma(p_spend, nu) USD with nu ~ Gamma(q, gamma) across customers (mean spend p_spend * gamma / (q - 1)).
    The first purchase is a starter pack bought at sign-up. Independent of the subscription.
    """

    r: float = 1.5
    alpha_weeks: float = 6.0
    a: float = 1.0
    b: float = 6.0
    p_spend: float = 6.0
    q: float = 4.0
    gamma_usd: float = 25.0


@dataclass(frozen=True)
class Dirt:
    """Small default rates of the mess real exports carry; every planted defect is counted in truth.json."""

    exact_duplicate: float = 0.005  # the same line written twice
    near_duplicate: float = 0.003  # the same record again with cosmetic changes (case, whitespace)
    malformed: float = 0.002  # a line no parser accepts (broken JSON, wrong field count)
    missing_id: float = 0.001  # the record's id left empty
    late_arriving: float = 0.01  # records delivered in a later file
    unknown_currency: float = 0.002  # an invoice in a currency the FX table does not know
    mixed_offsets: float = 0.3  # timestamps written with a non-UTC offset
    email_variant: float = 0.1  # contact emails differing in case or a domain alias
    billing_without_crm_id: float = 0.05  # billing customers missing metadata.hubspot_company_id


def _mix(smb: float, mid_market: float, enterprise: float) -> tuple[tuple[str, float], ...]:
    return (("smb", smb), ("mid_market", mid_market), ("enterprise", enterprise))


@dataclass(frozen=True)
class Truth:
    currency: str = "usd"
    # The merchant's IANA time zone: its days and months, when subscriptions start and renew, when the export is
    # taken (local midnight). Epoch timestamps in the exports are the UTC instants of those local times.
    timezone: str = "UTC"
    channels: tuple[Channel, ...] = field(
        default_factory=lambda: (
            # Spend is scaled to the customers asked for; CAC and each channel's segment mix are kept.
            # Field sales and events bring enterprise accounts at a high CAC; paid social brings small businesses.
            Channel("PAID_SEARCH", 900.0, 7500.0, segment_mix=_mix(0.55, 0.4, 0.05)),
            Channel("PAID_SOCIAL", 600.0, 3500.0, segment_mix=_mix(0.8, 0.19, 0.01)),
            Channel("EMAIL_MARKETING", 300.0, 5000.0, segment_mix=_mix(0.55, 0.42, 0.03)),
            Channel("OFFLINE", 1500.0, 80000.0, segment_mix=_mix(0.05, 0.35, 0.6)),
            Channel("ORGANIC_SEARCH", 0.0, None, 0.12, segment_mix=_mix(0.75, 0.23, 0.02)),
            Channel("REFERRALS", 0.0, None, 0.05, segment_mix=_mix(0.55, 0.4, 0.05)),
            Channel("DIRECT_TRAFFIC", 0.0, None, 0.05, segment_mix=_mix(0.7, 0.27, 0.03)),
        )
    )
    segments: tuple[Segment, ...] = (
        # Monthly plan price, base churn hazard, monthly chances of expansion and contraction: small businesses
        # churn often and rarely grow, enterprise accounts seldom leave and add seats (docs/sample-company.md).
        Segment("smb", (5, 49), (49.0, 299.0), 0.022, 0.015, 0.006),
        Segment("mid_market", (50, 999), (600.0, 2000.0), 0.004, 0.045, 0.004),
        Segment("enterprise", (1000, 20000), (3000.0, 10000.0), 0.0025, 0.06, 0.003),
    )
    spend_noise: float = 0.2  # daily spend varies uniformly by ± this share
    leads_per_customer: float = 1.5  # CRM companies that never buy
    support: Support = Support()
    survey: Survey = Survey()
    retention: Retention = Retention()
    billing: Billing = Billing()
    addons: AddOnPurchases = AddOnPurchases()
    dirt: Dirt = Dirt()

    @property
    def daily_customers(self) -> float:
        return sum(c.daily_customers for c in self.channels)

    def scaled(self, customers: int, days: int) -> Truth:
        """The same CAC and mix, with spend scaled so about `customers` arrive over `days`."""
        factor = customers / (self.daily_customers * days)
        channels = tuple(
            replace(c, daily_spend=c.daily_spend * factor, organic_daily_customers=c.organic_daily_customers * factor)
            for c in self.channels
        )
        return replace(self, channels=channels)

    def clean(self) -> Truth:
        """The same world with every dirty-data knob at zero."""
        return replace(self, dirt=Dirt(**{name: 0.0 for name in Dirt.__dataclass_fields__}))

    def as_dict(self) -> dict:
        out = asdict(self)
        for channel, source in zip(out["channels"], self.channels, strict=True):
            channel["daily_customers"] = source.daily_customers
        return out


def default_truth() -> Truth:
    return Truth()
