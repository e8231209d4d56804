"""Stripe objects as its API returns them, for everything here that writes Stripe-shaped exports.

The generator and the published samples write the same objects; one builder per object keeps their fields, order
and meaning in one place (https://docs.stripe.com/api/charges/object).
"""

from __future__ import annotations

from typing import Any

# A card charge that failed: Stripe's failure_code and failure_message.
Failure = tuple[str, str]


def charge(
    charge_id: str,
    customer_id: str,
    invoice_id: str,
    amount: int,
    currency: str,
    created: int,
    description: str,
    failure: Failure | None = None,
    refunded: bool = False,
) -> dict[str, Any]:
    """A card charge of `amount` minor units at Unix time `created`: captured unless it failed; `refunded` in full."""
    succeeded = failure is None
    return {
        "id": charge_id,
        "object": "charge",
        "customer": customer_id,
        "invoice": invoice_id,
        "amount": amount,
        "amount_captured": amount if succeeded else 0,
        "amount_refunded": amount if refunded else 0,
        "currency": currency,
        "created": created,
        "status": "succeeded" if succeeded else "failed",
        "paid": succeeded,
        "captured": succeeded,
        "refunded": refunded,
        "failure_code": None if succeeded else failure[0],
        "failure_message": None if succeeded else failure[1],
        "description": description,
        "outcome": {
            "network_status": "approved_by_network" if succeeded else "declined_by_network",
            "type": "authorized" if succeeded else "issuer_declined",
        },
        "payment_method_details": {"type": "card"},
    }
