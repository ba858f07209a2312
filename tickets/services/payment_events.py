"""Payment provider (Stripe) events: each recorded once and acted on once.

`payment_event_handle` writes the event row first, so every delivery is on record; asks the
provider what a handler needs (the paying card's type) before any lock is taken; then, in one
transaction with the event row locked, runs the event's handler and marks it processed. A
payment marks its event processed inside the payment's own transaction (order_fulfil's
`on_outcome`), so the payment's last statement can carry its COMMIT. The
handlers only translate the event and call the services that own the change: fulfilment
(tickets.services.fulfilment), release (tickets.services.release) and refunds
(tickets.services.refunds), which take their locks in the order tickets.services describes.
"""

from decimal import Decimal
from functools import partial

from django.db import transaction
from django.utils import timezone

from .. import payments
from ..exceptions import ProviderUnavailable
from ..models import Order, PaymentEvent
from .fulfilment import order_fulfil
from .refunds import provider_refund_record
from .release import order_release


def payment_event_handle(*, event: dict, now=None) -> str:
    """Record a verified provider event and act on it once, however often it is delivered.

    The event row is written first (so every delivery is on record even if processing fails
    and the provider retries). What the provider must be asked (the card's type) is asked next,
    before any lock is taken; if it cannot be, ProviderUnavailable leaves the event unprocessed
    for the provider to deliver again. Processing and marking it processed commit together."""
    now = now or timezone.now()
    recorded, _ = PaymentEvent.objects.get_or_create(
        stripe_event_id=event["id"], defaults={"type": event.get("type", ""), "payload": event}
    )
    if recorded.processed_at is not None:
        return f"duplicate event ({recorded.outcome})"
    obj = event.get("data", {}).get("object", {})
    lookup = PROVIDER_LOOKUPS.get(event.get("type"))
    try:
        facts = lookup(obj) if lookup else {}
    except ProviderUnavailable as exc:
        PaymentEvent.objects.filter(pk=recorded.pk, processed_at__isnull=True).update(
            outcome=f"not processed yet: {exc}"[:255]
        )
        raise
    if event.get("type") in PAYMENTS:
        # The payment marks the event processed itself, in its own transaction and before its
        # last statement, so that statement can still carry the COMMIT (the competition's row
        # is held only while the database runs it: rules.commits_with_claim). Two deliveries
        # at once queue on the customer's row there; the second finds the order paid.
        handler = EVENT_HANDLERS[event["type"]]
        outcome, _ = handler(obj, now, record=partial(_record, recorded.pk, now=now), **facts)
        return outcome
    with transaction.atomic():
        recorded = PaymentEvent.objects.select_for_update().get(pk=recorded.pk)
        if recorded.processed_at is not None:
            return f"duplicate event ({recorded.outcome})"
        handler = EVENT_HANDLERS.get(event.get("type"))
        outcome, order = handler(obj, now, **facts) if handler else ("ignored", None)
        _record(recorded.pk, outcome, order, now=now)
    return outcome


def _record(event_pk: int, outcome: str, order, *, now) -> None:
    """Mark the event processed with its outcome, unless another delivery has already."""
    PaymentEvent.objects.filter(pk=event_pk, processed_at__isnull=True).update(
        order=order, outcome=outcome[:255], processed_at=now
    )


def _order_for_session(session: dict) -> Order | None:
    metadata = session.get("metadata") or {}
    lookups = [
        {"pk": metadata.get("order_id")} if str(metadata.get("order_id", "")).isdigit() else None,
        {"reference": session.get("client_reference_id")}
        if session.get("client_reference_id")
        else None,
        {"stripe_checkout_session_id": session.get("id")} if session.get("id") else None,
    ]
    for lookup in filter(None, lookups):
        order = Order.objects.filter(**lookup).first()
        if order:
            return order
    return None


def _session_card_funding(session: dict) -> dict:
    """Ask the provider which kind of card paid (a paid session of an order still to fulfil)."""
    intent_id = session.get("payment_intent") or ""
    if not intent_id or session.get("payment_status") != "paid":
        return {}
    order = _order_for_session(session)
    if order is None or order.status in Order.PAID_STATES:
        return {}
    return {"card_funding": payments.get_gateway().card_funding(intent_id)}


def _on_session_completed(session: dict, now, card_funding: str = "", *, record):
    """`record(outcome, order)` marks the event processed: order_fulfil calls it inside the
    payment's transaction; for an event that pays nothing, it runs on its own."""
    order = _order_for_session(session)
    if order is None:
        outcome = "no matching order"
    elif session.get("payment_status") not in ("paid", "no_payment_required"):
        outcome = "awaiting payment"
    else:
        result = order_fulfil(
            order_id=order.pk,
            amount_paid=payments.from_pence(session.get("amount_total")),
            currency=session.get("currency"),
            payment_intent_id=session.get("payment_intent") or "",
            session_id=session.get("id"),
            card_funding=card_funding,
            now=now,
            on_outcome=record,
        )
        return result.outcome, result.order
    record(outcome, order)
    return outcome, order


def _on_payment_failed(intent: dict, now):
    """A card was declined at checkout. The checkout stays open and the order pending (the
    customer may try another card); the event, linked to the order, is the record of it."""
    metadata = intent.get("metadata") or {}
    order_id = str(metadata.get("order_id", ""))
    order = Order.objects.filter(pk=order_id).first() if order_id.isdigit() else None
    if order is None and intent.get("id"):
        order = Order.objects.filter(stripe_payment_intent_id=intent["id"]).first()
    if order is None:
        return "no matching order", None
    error = intent.get("last_payment_error") or {}
    code = error.get("decline_code") or error.get("code") or "declined"
    message = error.get("message") or ""
    return f"payment declined: {code}" + (f" ({message})" if message else ""), order


def _on_session_expired(session: dict, now):
    order = _order_for_session(session)
    if order is None:
        return "no matching order", None
    released = order_release(
        order_id=order.pk,
        reason=Order.Status.EXPIRED,
        only_if_lapsed=False,
        expire_checkout=False,  # Stripe says it has expired
        now=now,
    )
    return ("reservation released" if released else f"nothing to release ({order.status})"), order


def _on_charge_refunded(charge: dict, now):
    """A refund seen at the provider: ours are already on record; one made in the provider's
    dashboard is recorded by the refunds service (tickets.services.refunds)."""
    order = Order.objects.filter(
        stripe_payment_intent_id=charge.get("payment_intent") or "-"
    ).first()
    if order is None:
        return "no matching order", None
    outcome = provider_refund_record(
        order=order,
        amount_refunded=payments.from_pence(charge.get("amount_refunded")) or Decimal("0"),
        whole=bool(charge.get("refunded")),
        now=now,
    )
    return outcome, order


EVENT_HANDLERS = {
    "checkout.session.completed": _on_session_completed,
    "checkout.session.async_payment_succeeded": _on_session_completed,
    "checkout.session.expired": _on_session_expired,
    "charge.refunded": _on_charge_refunded,
    "payment_intent.payment_failed": _on_payment_failed,
}

# Payments: their handler records the event inside the payment's transaction (`record`).
PAYMENTS = {"checkout.session.completed", "checkout.session.async_payment_succeeded"}

# What an event's handler needs from the provider, asked before any lock (keyword arguments).
PROVIDER_LOOKUPS = {
    "checkout.session.completed": _session_card_funding,
    "checkout.session.async_payment_succeeded": _session_card_funding,
}
