"""Stripe-shaped billing exports: the product catalogue, customers, subscriptions and their events, invoices with
line items, charges, refunds, credit notes, coupons (JSON Lines as the Stripe API returns them) and an FX table.

Each life is rendered as it arrives (the export date is known from the start, `exported_at`): a subscription
whose cancellation takes effect after the export is still `active`, and no charge, refund or event is dated after
it. The catalogue and the whole FX table are written on the first day, before any life, and the add-on purchases
in `finish`, after every life: the order the sinks draw their dirt in from the renderer's one stream, the same
order as when lives were spooled to disk and rendered in `finish` (which cost 5% of a run, pickling every life).

Amounts are in minor units of the customer's currency. An invoice's total is always the simulated MRR (×10
for annual plans) converted at the customer's rate, so MRR is *after* discounts as docs/metrics.md defines it: a
coupon shows as a list subtotal above that total, never as less revenue than the truth says.

`realised()` hands truth.json each billing customer's CRM company and each subscription's MRR as docs/metrics.md
defines it (the plan's monthly value, yearly plans ÷ 12, less recurring discounts, in USD): at every change and at
every merchant month-end, read from the simulated life and its coupons, never from the files written.
"""

from __future__ import annotations

import math
import random
import string
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from functools import lru_cache
from itertools import pairwise
from math import floor, trunc
from pathlib import Path
from typing import Any, NamedTuple

from tealeaves import stripe
from tealeaves.generate.calendar import add_months, month_start
from tealeaves.generate.fakes import Stream
from tealeaves.generate.life import Life, Period
from tealeaves.generate.render.base import Renderer
from tealeaves.generate.spool import PickleSpool, SpooledMapping
from tealeaves.generate.world import Truth

ALPHABET = string.ascii_letters + string.digits
UNKNOWN_CURRENCY = "chf"  # not in the FX table: such invoices must be flagged, not summed
API_VERSION = "2024-06-20"

# Rates this renderer plants beyond world.Billing (reported in truth.json under planted.billing.rates).
RETRY_THEN_PAID_RATE = 0.05  # paid invoices whose first charge failed and a retry three days later succeeded
UNPAID_RETRIES = (0, 3, 5)  # days after the first attempt that Stripe's retries try an unpaid invoice again
# Durations made once (timedelta's keyword arguments cost more to parse than its arithmetic): a charge an hour
# after its invoice, a paid invoice's retry three days later, a manual invoice three days into its period, the unpaid
# retries
ONE_HOUR, RETRY_AFTER, MANUAL_INVOICE_AFTER = timedelta(hours=1), timedelta(days=3), timedelta(days=3)
UNPAID_RETRY_DELAYS = tuple(timedelta(days=days) for days in UNPAID_RETRIES)
WELCOME_COUPON_RATE = 0.10  # first invoices with the acquisition coupon
RETENTION_OFFER_RATE = 0.03  # renewals at which a save offer (retention coupon) starts
SERVICE_CREDIT_RATE = 0.02  # paid invoices later credited 10% to the customer's balance (goodwill after an issue)
SERVICE_CREDIT_SHARE = 0.10
SEGMENT_TITLES = {"smb": "SMB", "mid_market": "Mid-Market", "enterprise": "Enterprise"}
FAILURE_CODES = (
    ("card_declined", "Your card was declined."),
    ("insufficient_funds", "Your card has insufficient funds."),
    ("expired_card", "Your card has expired."),
)

# Coupons: ids are chosen by the merchant in Stripe; metadata.purpose tells finance acquisition from retention.
COUPONS: dict[str, dict[str, Any]] = {
    "welcome10": {
        "name": "Welcome 10% off",
        "percent_off": 10.0,
        "duration": "once",
        "duration_in_months": None,
        "metadata": {"purpose": "acquisition"},
    },
    "save20": {
        "name": "Save offer: 20% off for 3 months",
        "percent_off": 20.0,
        "duration": "repeating",
        "duration_in_months": 3,
        "metadata": {"purpose": "retention"},
    },
    "save15annual": {
        "name": "Save offer: 15% off the next year",
        "percent_off": 15.0,
        "duration": "once",
        "duration_in_months": None,
        "metadata": {"purpose": "retention"},
    },
}


class AddOnBuyer(NamedTuple):
    """What the add-on purchases of one customer need from their life, kept until the other records are out."""

    customer_id: str
    signed_at: datetime
    currency: str
    fx_to_usd: float


def id_text(draw: Callable[[], float], alphabet: str = ALPHABET, n: float = float(len(ALPHABET))) -> str:
    """14 characters of `alphabet`: exactly "".join(rng.choices(alphabet, k=14)) for draw=rng.random, the same
    draws (choices picks alphabet[floor(rng.random() * n)], k times) written out. A Stripe id is drawn for every
    invoice, line, charge and event: choices' list comprehension was 7.8% of the billing process at 10,000
    customers, and 14 terms spelled out take a fifth less (1.9 -> 1.5 us). math.floor, not int: the same index of a
    product that is never negative, through a function's fast path for floats rather than int's constructor (a
    third less per character)."""
    return "".join(
        (
            alphabet[floor(draw() * n)],
            alphabet[floor(draw() * n)],
            alphabet[floor(draw() * n)],
            alphabet[floor(draw() * n)],
            alphabet[floor(draw() * n)],
            alphabet[floor(draw() * n)],
            alphabet[floor(draw() * n)],
            alphabet[floor(draw() * n)],
            alphabet[floor(draw() * n)],
            alphabet[floor(draw() * n)],
            alphabet[floor(draw() * n)],
            alphabet[floor(draw() * n)],
            alphabet[floor(draw() * n)],
            alphabet[floor(draw() * n)],
        )
    )


def epoch(moment: datetime | None) -> int | None:
    # Not remembered: an aware datetime's timestamp() costs a third of what hashing it for a cache did (the
    # lru_cache here was 3% of the billing process at 10,000 customers). math.trunc is int() of a float without
    # int's constructor, which parses its arguments by keyword at every call.
    return None if moment is None else trunc(moment.timestamp())


def period_mrr_cents(life: Life, period: Period, coupon: str | None) -> int:
    """USD cents of MRR a period carries by docs/metrics.md: the plan's monthly value (a yearly plan's 10× price
    ÷ 12), less a recurring discount: a repeating or forever coupon, or a once-only one on a yearly invoice,
    whose service period is longer than a month. A welcome coupon on a monthly invoice is not recurring.
    Exact arithmetic, rounded half up to the cent once, as the marts round each subscription."""
    return _mrr_cents(period.mrr_usd, life.annual, coupon)


@lru_cache(maxsize=4096)  # Fractions are slow; a life's periods mostly repeat one plan price, so recent ones recur
def _mrr_cents(mrr_usd: float, annual: bool, coupon: str | None) -> int:
    mrr = Fraction(mrr_usd) * (Fraction(10, 12) if annual else 1)
    if coupon is not None:
        terms = COUPONS[coupon]
        if terms["duration"] in ("repeating", "forever") or (terms["duration"] == "once" and annual):
            mrr *= 1 - Fraction(str(terms["percent_off"])) / 100
    return math.floor(mrr * 100 + Fraction(1, 2))


class BillingRenderer(Renderer):
    source = "billing"

    def __init__(self, root: Path, truth: Truth, seed: int, scratch: Path) -> None:
        super().__init__(root, truth, seed, scratch)
        self.customers = self.jsonl("customers.jsonl", key="id", cosmetic=("name",))
        self.invoices = self.jsonl("invoices.jsonl", key="id", cosmetic=("status", "billing_reason"))
        self.fx = self.csv("fx_rates.csv", ["rate_date", "currency", "rate_to_usd"], key=None, cosmetic=("currency",))
        self.products = self.jsonl("products.jsonl", key="id", cosmetic=("name", "description"))
        self.prices = self.jsonl("prices.jsonl", key="id", cosmetic=("nickname",))
        self.coupons = self.jsonl("coupons.jsonl", key="id", cosmetic=("name",))
        self.subscriptions = self.jsonl("subscriptions.jsonl", key="id", cosmetic=("collection_method",))
        self.events = self.jsonl("subscription_events.jsonl", key="id")
        self.lines = self.jsonl("invoice_line_items.jsonl", key="id", cosmetic=("description",))
        self.charges = self.jsonl("charges.jsonl", key="id", cosmetic=("description", "failure_message"))
        self.refunds = self.jsonl("refunds.jsonl", key="id", cosmetic=("reason",))
        self.credit_notes = self.jsonl("credit_notes.jsonl", key="id", cosmetic=("memo",))
        # counted as the sinks count (a defaultdict: see Sink.counts), several times a life
        self.extra_counts: defaultdict[str, int] = defaultdict(int, unknown_currency=0, billing_without_crm_id=0)
        self.price_ids: dict[tuple[str, str, str], str] = {}  # (segment, interval, currency) -> price id
        self.end = datetime.max.replace(tzinfo=UTC)
        self.end_day: date | None = None  # the export's date, from exported_at()
        # Add-on purchases draw from their own stream, so planting them leaves every other draw (and id) as it was.
        self.addon_rng = Stream(f"addons-{seed}")
        self.addon_buyers = PickleSpool(scratch / "billing_addon_buyers.pickle")
        # billing customer id -> CRM company id (hs_object_id); subscription id -> its realised MRR
        self.customer_companies = SpooledMapping(scratch / "billing_customer_company.json")
        self.subscription_mrr = SpooledMapping(scratch / "billing_subscriptions.json")
        # segment -> renewals decided before the export's end: how many, the sum of their churn probabilities and
        # of p(1-p), and how many churned
        self.churn_draws: defaultdict[str, defaultdict[str, float]] = defaultdict(lambda: defaultdict(int))

    def planted(self) -> dict[str, Any]:
        return {
            **dict(self.extra_counts),
            "rates": {
                "retry_then_paid": RETRY_THEN_PAID_RATE,
                "welcome_coupon": WELCOME_COUPON_RATE,
                "retention_offer": RETENTION_OFFER_RATE,
                "service_credit": SERVICE_CREDIT_RATE,
                "refund": self.truth.billing.refund_rate,
            },
        }

    def realised(self) -> dict[str, Any]:
        """Each billing customer's true CRM company, and each subscription's realised USD MRR.

        `mrr_changes`: UTC instant (ISO 8601) -> MRR from that instant on, one entry per change before the export's
        end (the sign-up, a plan change, a recurring discount starting or ending, 0 at churn). `month_end_mrr`:
        merchant month (first day) -> MRR at the month's last instant (the export's end for the last month), from
        the sign-up's month through the month it fell to 0 at churn; it stays 0 after that.

        `churn_draws`, per segment: the renewals whose churn was drawn before the export's end, the sum of the
        probabilities they were drawn with (the expected churns, given each customer's realised NPS answers and SLA
        breaches), the sum of p(1 - p) (the variance of the churn count about it) and the churns drawn."""
        return {
            "currency": self.truth.currency.upper(),
            "customer_company": self.customer_companies,
            "subscriptions": self.subscription_mrr,
            "churn_draws": {
                segment: {
                    "renewals": draws["renewals"],
                    "expected_churns": round(draws["expected_churns"], 6),
                    "variance": round(draws["variance"], 6),
                    "churned": draws["churned"],
                }
                for segment, draws in sorted(self.churn_draws.items())
            },
        }

    def stripe_id(self, prefix: str, rng: random.Random | None = None) -> str:
        return prefix + "_" + id_text(self._random if rng is None else rng.random)

    # -- hooks ---------------------------------------------------------------------------------------------
    def exported_at(self, end: date) -> None:
        super().exported_at(end)
        self.end, self.end_day = self.export_end, end

    def day(self, day: date) -> None:
        """On the first day, the catalogue and the FX rate of every day up to the export, before any life."""
        if self.price_ids:
            return
        if self.end_day is None:
            raise RuntimeError("BillingRenderer.exported_at() must be called before day(): the FX table runs to it")
        self._catalogue(self.clock.at(day) - timedelta(days=90))
        while day < self.end_day:
            for code, _, rate in self.truth.billing.currencies:
                if code != self.truth.currency:
                    self.fx.write(
                        {"rate_date": day.isoformat(), "currency": code.upper(), "rate_to_usd": f"{rate:.6f}"}
                    )
            day += timedelta(days=1)

    def customer(self, life: Life) -> None:
        self._render_life(life)

    def finish(self, end: date) -> None:
        # After every other record: the sinks' dirt shares the renderer's random stream, so writing add-ons
        # last leaves every earlier record, its id and its dirt exactly as before they were planted.
        for buyer in self.addon_buyers.drain():
            self._addon_purchases(buyer)
        for sink in self.sinks.values():
            if not sink.counts.get("records"):
                # The loader refuses a zero-byte file as a truncated export; a file with no refunds (small runs)
                # is a real, empty export, so it gets one blank line, which the loader skips.
                sink.blank_line()

    # -- catalogue -----------------------------------------------------------------------------------------
    def _catalogue(self, created: datetime) -> None:
        """One product per segment, priced per plan unit (1 USD of monthly list value) in every currency."""
        for segment in self.truth.segments:
            product_id = self.stripe_id("prod")
            title = SEGMENT_TITLES.get(segment.name, segment.name.replace("_", " ").title())
            self.products.write(
                {
                    "id": product_id,
                    "object": "product",
                    "name": f"Tealeaves {title}",
                    "description": f"Customer analytics for {title} teams",
                    "active": True,
                    "created": epoch(created),
                    "unit_label": "plan unit",
                    "metadata": {"segment": segment.name},
                }
            )
            for interval, units in (("month", 100), ("year", 1000)):  # annual = 10× the monthly price
                for code, _, rate in self.truth.billing.currencies:
                    price_id = self.stripe_id("price")
                    self.price_ids[(segment.name, interval, code)] = price_id
                    unit = units / rate
                    self.prices.write(
                        {
                            "id": price_id,
                            "object": "price",
                            "product": product_id,
                            "active": True,
                            "currency": code,
                            "unit_amount": round(unit),
                            "unit_amount_decimal": f"{unit:.6f}",
                            "billing_scheme": "per_unit",
                            "type": "recurring",
                            "recurring": {"interval": interval, "interval_count": 1, "usage_type": "licensed"},
                            "nickname": f"{segment.name} {interval}ly {code.upper()}",
                            "created": epoch(created),
                            "metadata": {"segment": segment.name},
                        }
                    )
        for coupon_id, coupon in COUPONS.items():
            self.coupons.write(
                {
                    "id": coupon_id,
                    "object": "coupon",
                    "amount_off": None,
                    "currency": None,
                    "valid": True,
                    "created": epoch(created),
                    **coupon,
                }
            )

    # -- one life ------------------------------------------------------------------------------------------
    def _render_life(self, life: Life) -> None:
        dirt = self.truth.dirt
        customer_id, subscription_id = self.stripe_id("cus"), self.stripe_id("sub")
        metadata = {"hubspot_company_id": str(life.company_id)}
        if self.rng.random() < dirt.billing_without_crm_id:
            metadata = {}
            self.extra_counts["billing_without_crm_id"] += 1
        self.customers.write(
            {
                "id": customer_id,
                "object": "customer",
                "email": life.contacts[0].email,
                "name": life.name,
                "created": epoch(life.signed_at),
                "currency": life.currency,
                "metadata": metadata,
            }
        )
        interval = "year" if life.annual else "month"
        price_id = self.price_ids[(life.segment.name, interval, life.currency)]
        item_id = self.stripe_id("si")
        coupons = self._coupons(life)
        for period, coupon in zip(life.periods, coupons, strict=True):
            self._invoice(life, customer_id, subscription_id, price_id, period, coupon)
        self._subscription(life, customer_id, subscription_id, item_id, price_id)
        self.customer_companies.add(customer_id, life.company_id)
        self.subscription_mrr.add(subscription_id, self._realised_mrr(life, customer_id, coupons))
        draws = self.churn_draws[life.segment.name]
        for decided_at, probability in life.churn_draws:
            if decided_at < self.end:
                draws["renewals"] += 1
                draws["expected_churns"] += probability
                draws["variance"] += probability * (1 - probability)
                draws["churned"] += decided_at == life.churned_at
        self.addon_buyers.append(AddOnBuyer(customer_id, life.signed_at, life.currency, life.fx_to_usd))

    def _realised_mrr(self, life: Life, customer_id: str, coupons: list[tuple[str, str] | None]) -> dict[str, Any]:
        """The subscription's MRR as it happened, up to the export's end (see `realised`)."""
        changes: list[tuple[datetime, int]] = []
        for period, coupon in zip(life.periods, coupons, strict=True):
            cents = period_mrr_cents(life, period, coupon[0] if coupon else None)
            if period.start < self.end and (not changes or changes[-1][1] != cents):
                changes.append((period.start, cents))
        if life.churned_at is not None and life.churned_at < self.end:
            changes.append((life.churned_at, 0))

        def at(moment: datetime) -> int:
            """MRR at the instant just before `moment`."""
            return next((cents for start, cents in reversed(changes) if start < moment), 0)

        month_ends: dict[str, float] = {}
        clock, end, churned_at = self.clock, self.end, life.churned_at
        month = month_start(clock.day_of(life.signed_at))
        # The snapshots ascend, and so do the changes (periods in order, churn at the last one's end): the MRR at
        # each is the change a cursor has reached, read once per month instead of scanning the changes again.
        ascending = all(earlier[0] <= later[0] for earlier, later in pairwise(changes))
        reached, cents, count = 0, 0, len(changes)
        while (snapshot := min(clock.at(following := add_months(month, 1)), end)) > clock.at(month):
            if ascending:
                while reached < count and changes[reached][0] < snapshot:
                    cents = changes[reached][1]
                    reached += 1
                month_ends[month.isoformat()] = cents / 100
            else:
                month_ends[month.isoformat()] = at(snapshot) / 100
            if churned_at is not None and churned_at < snapshot:
                break
            month = following
        return {
            "customer": customer_id,
            "segment": life.segment.name,
            "interval": "year" if life.annual else "month",
            "mrr_changes": {
                start.astimezone(UTC).isoformat().replace("+00:00", "Z"): cents / 100 for start, cents in changes
            },
            "month_end_mrr": month_ends,
        }

    def _coupons(self, life: Life) -> list[tuple[str, str] | None]:
        """(coupon, discount id) on each period's invoice: a welcome coupon on the first, save offers at some
        renewals. A repeating coupon is one discount across the invoices it covers, as in Stripe."""
        chosen: list[tuple[str, str] | None] = [None] * len(life.periods)
        if life.periods and self.rng.random() < WELCOME_COUPON_RATE:
            chosen[0] = ("welcome10", self.stripe_id("di"))
        for index in range(1, len(life.periods)):
            if chosen[index] is None and self.rng.random() < RETENTION_OFFER_RATE:
                if life.annual:
                    chosen[index] = ("save15annual", self.stripe_id("di"))
                else:
                    discount = ("save20", self.stripe_id("di"))
                    for offset in range(3):  # repeating for three months
                        if index + offset < len(chosen):
                            chosen[index + offset] = discount
        return chosen

    def _invoice(
        self,
        life: Life,
        customer_id: str,
        subscription_id: str,
        price_id: str,
        period: Period,
        coupon: tuple[str, str] | None,
    ) -> None:
        rng = self.rng
        invoice_id, line_id = self.stripe_id("in"), self.stripe_id("il")
        amount = round(period.mrr_usd * (10 if life.annual else 1) / life.fx_to_usd * 100)
        subtotal, discount = amount, None
        started = epoch(period.start)  # written five times
        if coupon is not None:
            coupon_id, discount_id = coupon
            subtotal = round(amount / (1 - COUPONS[coupon_id]["percent_off"] / 100))
            discount = {
                "id": discount_id,
                "object": "discount",
                "coupon": {"id": coupon_id, **COUPONS[coupon_id]},
                "customer": customer_id,
                "subscription": subscription_id,
                "start": started,
            }
            purpose = COUPONS[coupon_id]["metadata"]["purpose"]
            self.extra_counts[f"{purpose}_discounted_invoices"] += 1
        discount_amount = subtotal - amount
        # Stripe's invoice period_start/period_end is the usage period during which invoice items were added: on a
        # renewal, the period just ended (looking back); on the first invoice, both are the creation instant. The
        # service period billed is the line's `period`, which looks forward.
        looked_back = life.periods[period.number - 1].start if period.number else period.start
        charges, paid_at = self._charge_attempts(period)
        description = f"{life.segment.name} plan ({'annual' if life.annual else 'monthly'})"
        line = {
            "id": line_id,
            "object": "line_item",
            "invoice": invoice_id,
            "subscription": subscription_id,
            "type": "subscription",
            "price": {"id": price_id, "object": "price"},
            "quantity": trunc(period.mrr_usd),
            "amount": subtotal,
            "currency": life.currency,
            "description": description,
            "proration": False,
            "period": {"start": started, "end": epoch(period.end)},
            "discount_amounts": [{"amount": discount_amount, "discount": discount["id"]}] if discount else [],
        }
        charge_ids = [self.stripe_id("ch") for _ in charges]
        refund = None
        if period.paid and rng.random() < self.truth.billing.refund_rate:
            refunded_at = paid_at + timedelta(rng.randint(2, 20), rng.randint(0, 86_399))  # days, seconds
            if refunded_at < self.end:
                refund = {"id": self.stripe_id("re"), "created": refunded_at}
        self.invoices.write(
            {
                "id": invoice_id,
                "object": "invoice",
                "customer": customer_id,
                "subscription": subscription_id,
                "status": "paid" if period.paid else "open",
                "billing_reason": "subscription_create" if period.number == 0 else "subscription_cycle",
                "currency": life.currency,
                "subtotal": subtotal,
                "total": amount,
                "amount_due": amount,
                "amount_paid": amount if period.paid else 0,
                "amount_remaining": 0 if period.paid else amount,
                "attempt_count": len(charges),
                "charge": charge_ids[-1],
                "discount": discount,
                "total_discount_amounts": [{"amount": discount_amount, "discount": discount["id"]}] if discount else [],
                "created": started,
                "period_start": epoch(looked_back),
                "period_end": started,
                "status_transitions": {"finalized_at": started, "paid_at": epoch(paid_at)},
                "lines": {"object": "list", "data": [line]},
            }
        )
        self.lines.write(line)
        for charge_id, (created, failure) in zip(charge_ids, charges, strict=True):
            succeeded = failure is None
            refunded = succeeded and refund is not None
            self.charges.write(
                stripe.charge(
                    charge_id,
                    customer_id,
                    invoice_id,
                    amount,
                    life.currency,
                    epoch(created),
                    "Subscription update" if period.number else "Subscription creation",
                    failure,
                    refunded,
                )
            )
            self.extra_counts["failed_charges"] += not succeeded
        if refund is not None:
            self._refund(refund, charge_ids[-1], invoice_id, customer_id, amount, life.currency)
        elif period.paid and rng.random() < SERVICE_CREDIT_RATE:
            credited_at = paid_at + timedelta(rng.randint(1, 20), rng.randint(0, 86_399))  # days, seconds
            if credited_at < self.end:
                self._credit_note(
                    invoice_id,
                    customer_id,
                    round(amount * SERVICE_CREDIT_SHARE),
                    life.currency,
                    credited_at,
                    None,
                    "product_unsatisfactory",
                    "service_credit",
                )
        if rng.random() < self.truth.dirt.unknown_currency:
            self._unknown_currency_invoice(customer_id, period)

    def _charge_attempts(self, period: Period) -> tuple[list[tuple[datetime, tuple[str, str] | None]], datetime | None]:
        """(created, failure or None) per attempt, and when the invoice was paid (None if it never was)."""
        rng, first = self.rng, period.start + ONE_HOUR
        if period.paid:
            retry = first + RETRY_AFTER
            if rng.random() < RETRY_THEN_PAID_RATE and retry < self.end:
                self.extra_counts["retried_then_paid_invoices"] += 1
                return [(first, rng.choice(FAILURE_CODES)), (retry, None)], retry
            return [(first, None)], first
        # The first attempt always happens (renewals start at 06:00, before the export's midnight).
        attempts = [first + delay for delay in UNPAID_RETRY_DELAYS if not delay or first + delay < self.end]
        return [(moment, rng.choice(FAILURE_CODES)) for moment in attempts], None

    def _refund(self, refund: dict, charge_id: str, invoice_id: str, customer_id: str, amount: int, cur: str) -> None:
        self.refunds.write(
            {
                "id": refund["id"],
                "object": "refund",
                "charge": charge_id,
                "amount": amount,
                "currency": cur,
                "created": epoch(refund["created"]),
                "reason": "requested_by_customer",
                "status": "succeeded",
                "metadata": {"invoice": invoice_id},
            }
        )
        self.extra_counts["refunds"] += 1
        self._credit_note(
            invoice_id, customer_id, amount, cur, refund["created"], refund["id"], "order_change", "refund"
        )

    def _credit_note(
        self,
        invoice_id: str,
        customer_id: str,
        amount: int,
        currency: str,
        created: datetime,
        refund_id: str | None,
        reason: str,
        purpose: str,
    ) -> None:
        self.credit_notes.write(
            {
                "id": self.stripe_id("cn"),
                "object": "credit_note",
                "invoice": invoice_id,
                "customer": customer_id,
                "amount": amount,
                "currency": currency,
                "created": epoch(created),
                "status": "issued",
                "type": "post_payment",
                "reason": reason,
                "refund": refund_id,
                "out_of_band_amount": None,
                "credit_amount": None if refund_id else amount,  # credited to the customer's balance
                "memo": "Refund of the invoice" if refund_id else "Service credit",
                "metadata": {"purpose": purpose},
            }
        )
        self.extra_counts[f"{purpose}_credit_notes"] += 1

    def _unknown_currency_invoice(self, customer_id: str, period: Period) -> None:
        """A one-off manual invoice in a currency the FX table does not know (planted defect)."""
        invoice_id, charge_id = self.stripe_id("in"), self.stripe_id("ch")
        created = period.start + MANUAL_INVOICE_AFTER
        self._paid_one_off(customer_id, invoice_id, charge_id, UNKNOWN_CURRENCY, 5000, created, "Manual invoice")
        self.extra_counts["unknown_currency"] += 1

    def _paid_one_off(
        self,
        customer_id: str,
        invoice_id: str,
        charge_id: str,
        currency: str,
        amount: int,
        created: datetime,
        description: str,
        line: dict[str, Any] | None = None,
    ) -> None:
        """A manual invoice outside any subscription, paid at once by one card charge (with its line, if any)."""
        stamp = epoch(created)  # written up to six times
        period = stamp if line else None  # Stripe dates an invoice item's period; a bare invoice has none
        invoice = {
            "id": invoice_id,
            "object": "invoice",
            "customer": customer_id,
            "subscription": None,
            "status": "paid",
            "billing_reason": "manual",
            "currency": currency,
            "subtotal": amount,
            "total": amount,
            "amount_due": amount,
            "amount_paid": amount,
            "amount_remaining": 0,
            "attempt_count": 1,
            "charge": charge_id,
            "discount": None,
            "total_discount_amounts": [],
            "created": stamp,
            "period_start": period,
            "period_end": period,
            "status_transitions": {"finalized_at": stamp, "paid_at": stamp},
        }
        if line:
            invoice["lines"] = {"object": "list", "data": [line]}
        self.invoices.write(invoice)
        if line:
            self.lines.write(line)
        self.charges.write(stripe.charge(charge_id, customer_id, invoice_id, amount, currency, stamp, description))

    # -- one-off add-on purchases (the BG/NBD-shaped stream, world.AddOnPurchases) ------------------------------
    def _addon_purchases(self, life: AddOnBuyer) -> None:
        """Simulate the customer's add-on purchases exactly as BG/NBD and Gamma-Gamma assume, up to the export end."""
        rng, plant = self.addon_rng, self.truth.addons
        rate = rng.gammavariate(plant.r, 1 / plant.alpha_weeks)  # purchases per week while alive
        dropout = rng.betavariate(plant.a, plant.b)
        nu = rng.gammavariate(plant.q, 1 / plant.gamma_usd)
        # Every customer buys a starter pack of credits at sign-up (after the plan's first invoice), so the first
        # purchase - BG/NBD's time 0 - is not itself chosen by the customer's rate, as the model assumes.
        moment = life.signed_at + timedelta(0, 60 * rng.randint(5, 120))  # whole minutes
        purchases = 0
        while moment < self.end:
            spend_usd = rng.gammavariate(plant.p_spend, 1 / nu)
            self._addon_invoice(life, moment, max(100, round(spend_usd / life.fx_to_usd * 100)))
            purchases += 1
            if purchases > 1 and rng.random() < dropout:  # BG/NBD: a customer may leave after a repeat purchase
                break
            moment += timedelta(weeks=rng.expovariate(rate))
        self.extra_counts["addon_customers"] += purchases > 0

    def _addon_invoice(self, life: AddOnBuyer, created: datetime, amount: int) -> None:
        rng = self.addon_rng
        invoice_id, line_id, charge_id = (self.stripe_id(prefix, rng) for prefix in ("in", "il", "ch"))
        line = {
            "id": line_id,
            "object": "line_item",
            "invoice": invoice_id,
            "subscription": None,
            "type": "invoiceitem",
            "price": None,
            "quantity": 1,
            "amount": amount,
            "currency": life.currency,
            "description": "Add-on: usage credits",
            "proration": False,
            "period": {"start": (stamp := epoch(created)), "end": stamp},
            "discount_amounts": [],
        }
        self._paid_one_off(
            life.customer_id, invoice_id, charge_id, life.currency, amount, created, "Add-on purchase", line
        )
        self.extra_counts["addon_invoices"] += 1

    # -- subscription and its events -----------------------------------------------------------------------
    def _subscription(self, life: Life, customer_id: str, subscription_id: str, item_id: str, price_id: str) -> None:
        """The subscription as exported, and the Stripe events that tell its history up to the export."""
        rng, end = self.rng, self.end
        periods = life.periods

        def snapshot(quantity: int, status: str, **cancel: Any) -> dict[str, Any]:
            return {
                "id": subscription_id,
                "object": "subscription",
                "customer": customer_id,
                "status": status,
                "quantity": quantity,
                "items": {"data": [{"id": item_id, "price": {"id": price_id}, "quantity": quantity}]},
                "cancel_at_period_end": cancel.get("cancel_at_period_end", False),
                "cancel_at": epoch(cancel.get("cancel_at")),
                "canceled_at": epoch(cancel.get("canceled_at")),
                "ended_at": epoch(cancel.get("ended_at")),
            }

        retained_from = (
            None if self.truth.billing.events_days is None else end - timedelta(days=self.truth.billing.events_days)
        )

        def event(kind: str, created: datetime, obj: dict[str, Any], previous: dict[str, Any] | None) -> None:
            data: dict[str, Any] = {"object": obj}
            if previous is not None:
                data["previous_attributes"] = previous
            retained = retained_from is None or created >= retained_from  # the Events API keeps 30 days
            if not retained:
                self.extra_counts["events_older_than_the_export_window"] += 1
            self.events.write(
                {
                    "id": self.stripe_id("evt"),
                    "object": "event",
                    "api_version": API_VERSION,
                    "type": kind,
                    "created": epoch(created),
                    "data": data,
                },
                keep=retained,
            )
            self.extra_counts[f"events_{kind.rsplit('.', 1)[-1]}"] += retained

        quantity = trunc(periods[0].mrr_usd)
        event("customer.subscription.created", life.signed_at, snapshot(quantity, "active"), None)
        for period in periods[1:]:
            new = trunc(period.mrr_usd)
            if period.change in ("expansion", "contraction") and new != quantity:
                event(
                    "customer.subscription.updated",
                    period.start,
                    snapshot(new, "active"),
                    {"quantity": quantity, "items": {"data": [{"id": item_id, "quantity": quantity}]}},
                )
                self.extra_counts[f"{period.change}s"] += 1
                quantity = new
        cancel: dict[str, Any] = {}
        status = "active"
        if life.churned_at is not None:
            last = periods[-1]
            requested = max(last.start, life.churned_at - timedelta(rng.randint(1, 14)))  # days
            requested += timedelta(0, rng.randint(0, 3600))
            if requested < end:
                cancel = {"cancel_at_period_end": True, "cancel_at": life.churned_at, "canceled_at": requested}
                event(
                    "customer.subscription.updated",
                    requested,
                    snapshot(quantity, "active", **cancel),
                    {"cancel_at_period_end": False, "cancel_at": None, "canceled_at": None},
                )
                self.extra_counts["cancellation_requests"] += 1
            if life.churned_at < end:
                cancel = {"canceled_at": requested, "ended_at": life.churned_at}
                status = "canceled"
                event(
                    "customer.subscription.deleted",
                    life.churned_at,
                    snapshot(quantity, status, **cancel),
                    {"status": "active"},
                )
                self.extra_counts["canceled_subscriptions"] += 1
        current = next((p for p in reversed(periods) if p.start < end), periods[-1])
        self.subscriptions.write(
            {
                **snapshot(quantity, status, **cancel),
                "currency": life.currency,
                "collection_method": "charge_automatically",
                "created": epoch(life.signed_at),
                "start_date": epoch(life.signed_at),
                "current_period_start": epoch(current.start),
                "current_period_end": epoch(current.end),
                "plan": {"id": price_id, "object": "plan", "interval": "year" if life.annual else "month"},
                "metadata": {},
            }
        )
