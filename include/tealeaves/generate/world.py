"""The planted truth: how customers arrive, what they pay and when they leave.

The generator draws from these rates; `truth.json` records them so tests can check what the marts recover.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Channel:
    """An acquisition channel, named as HubSpot's `hs_analytics_source` names it."""

    name: str
    daily_spend: float  # reporting currency per day; 0 for organic channels
    true_cac: float | None  # expected spend per new customer; None for organic channels
    organic_daily_customers: float = 0.0  # new customers per day when the channel has no spend

    @property
    def daily_customers(self) -> float:
        if self.true_cac:
            return self.daily_spend / self.true_cac
        return self.organic_daily_customers


@dataclass(frozen=True)
class Segment:
    name: str
    share: float
    employees: tuple[int, int]
    mrr: tuple[float, float]  # monthly plan price range, reporting currency
    monthly_churn: float  # hazard: chance a paying customer cancels at each renewal


@dataclass(frozen=True)
class Truth:
    currency: str = "usd"
    channels: tuple[Channel, ...] = field(
        default_factory=lambda: (
            Channel("PAID_SEARCH", daily_spend=900.0, true_cac=1500.0),
            Channel("PAID_SOCIAL", daily_spend=600.0, true_cac=2000.0),
            Channel("EMAIL_MARKETING", daily_spend=150.0, true_cac=500.0),
            Channel("OFFLINE", daily_spend=1200.0, true_cac=4000.0),
            Channel("ORGANIC_SEARCH", daily_spend=0.0, true_cac=None, organic_daily_customers=0.4),
            Channel("REFERRALS", daily_spend=0.0, true_cac=None, organic_daily_customers=0.2),
            Channel("DIRECT_TRAFFIC", daily_spend=0.0, true_cac=None, organic_daily_customers=0.2),
        )
    )
    segments: tuple[Segment, ...] = (
        Segment("smb", 0.6, (5, 49), (99.0, 499.0), 0.04),
        Segment("mid_market", 0.3, (50, 999), (800.0, 3000.0), 0.02),
        Segment("enterprise", 0.1, (1000, 20000), (5000.0, 20000.0), 0.01),
    )
    spend_noise: float = 0.2  # daily spend varies uniformly by ± this share
    leads_per_customer: float = 1.5  # CRM companies that never buy
    invoice_failure_rate: float = 0.03  # renewal invoices left unpaid

    @property
    def daily_customers(self) -> float:
        return sum(c.daily_customers for c in self.channels)

    def scaled(self, customers: int, days: int) -> Truth:
        """The same CAC and mix, with spend scaled so about `customers` arrive over `days`."""
        factor = customers / (self.daily_customers * days)
        channels = tuple(
            Channel(c.name, c.daily_spend * factor, c.true_cac, c.organic_daily_customers * factor)
            for c in self.channels
        )
        return Truth(
            self.currency, channels, self.segments, self.spend_noise, self.leads_per_customer, self.invoice_failure_rate
        )

    def as_dict(self) -> dict:
        out = asdict(self)
        for channel, source in zip(out["channels"], self.channels, strict=True):
            channel["daily_customers"] = source.daily_customers
        return out


def default_truth() -> Truth:
    return Truth()
