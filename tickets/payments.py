"""Payment providers behind one small interface (like healthchecks' transports).

`StripeGateway` talks to Stripe Checkout through the official SDK; `DevGateway` (chosen when
STRIPE_SECRET_KEY is empty) sends the customer to a local test-payment page whose "Pay" button
signs a `checkout.session.completed` event with the webhook secret and delivers it through the
same webhook view, so the whole code path runs without Stripe. The tester picks the card type
there (it travels in the dev payment-intent id, which is all `DevGateway.card_funding` reads),
and "Decline payment" delivers a signed `payment_intent.payment_failed` event the same way.

Money inside Fairdraw is Decimal pounds; providers get integer pence.
"""

import json
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import stripe
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.utils import timezone

from .exceptions import PaymentFailed, ProviderUnavailable
from .models import CardFunding

PENNY = Decimal("0.01")
DEV_SESSION_PREFIX = "cs_dev_"
# Stripe refuses a Checkout Session that expires sooner than 30 minutes after creation. Our
# reservation is shorter; a payment arriving after it lapsed is re-reserved or refunded.
STRIPE_MIN_SESSION_MINUTES = 31


def to_pence(amount: Decimal) -> int:
    return int((amount.quantize(PENNY, rounding=ROUND_HALF_UP) * 100).to_integral_value())


def from_pence(pence) -> Decimal | None:
    if pence is None:
        return None
    return (Decimal(int(pence)) / 100).quantize(PENNY)


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


@dataclass(frozen=True)
class RefundResult:
    id: str
    status: str


class PaymentGateway:
    name = ""

    def create_checkout(
        self, order, *, success_url: str, cancel_url: str, submit_message: str = ""
    ) -> CheckoutSession:
        """`submit_message` is shown by the Pay button (e.g. which cards are accepted)."""
        raise NotImplementedError

    def card_funding(self, payment_intent_id: str) -> str:
        """The paying card's funding type (a CardFunding value). Raises ProviderUnavailable if
        the provider cannot be asked right now."""
        raise NotImplementedError

    def expire_checkout(self, session_id: str) -> str:
        """Close a checkout so it can no longer be paid; returns the session's final status:
        "expired", or "complete" if the customer paid first (the payment's webhook is on its
        way). Raises ProviderUnavailable when trying again later may work, PaymentFailed when
        it cannot."""
        raise NotImplementedError

    def refund(
        self, *, payment_intent_id: str, amount_pence: int, idempotency_key: str, metadata: dict
    ) -> RefundResult:
        raise NotImplementedError


def _line_items(order) -> list[dict]:
    """One item per order line at what the line costs after bundles and discount code
    (`line_total`), so Stripe charges exactly the order's total. A line whose price does not
    divide into equal whole pence per ticket (a bundle plus singles, a share of a code) is one
    item of quantity 1 named with its ticket count; the description says how it was priced."""
    items = []
    code = getattr(getattr(order, "redemption", None), "code", None)
    for line in order.lines.select_related("competition"):
        name = line.competition.title
        if line.chosen_numbers:
            name += " – numbers " + ", ".join(str(n) for n in sorted(line.chosen_numbers))
        pence, quantity = to_pence(line.line_total), line.quantity
        if pence % quantity:
            name, unit, quantity = f"{name} – {line.quantity} tickets", pence, 1
        else:
            unit = pence // quantity
        product = {"name": name[:250]}
        if description := _priced_as(line, code):
            product["description"] = description[:500]
        items.append(
            {
                "price_data": {
                    "currency": order.currency.lower(),
                    "unit_amount": unit,
                    "product_data": product,
                },
                "quantity": quantity,
            }
        )
    return items


def _priced_as(line, code) -> str:
    """'5 for £4.00 + 2 × £0.99; code WELCOME10 −£0.60' ('' at single prices)."""
    parts = []
    if line.bundle_discount:
        bundled = sum(b["quantity"] * b["times"] for b in line.bundles)
        parts += [
            f"{b['times']} × {b['quantity']} for £{b['price']}"
            if b["times"] > 1
            else f"{b['quantity']} for £{b['price']}"
            for b in line.bundles
        ]
        if line.quantity > bundled:
            parts.append(f"{line.quantity - bundled} × £{line.unit_price}")
    text = " + ".join(parts)
    if line.code_discount:
        text += ("; " if text else "") + f"code {code or ''} −£{line.code_discount}".replace(
            "code  ", "code "
        )
    return text


# Stripe errors where the same request may well work later (network, rate limit, 409/5xx).
_TRANSIENT = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)


class StripeGateway(PaymentGateway):
    name = "stripe"

    def __init__(self, api_key: str, api_base: str = ""):
        base_addresses = {"api": api_base} if api_base else None
        self.client = stripe.StripeClient(api_key, base_addresses=base_addresses)

    def create_checkout(
        self, order, *, success_url: str, cancel_url: str, submit_message: str = ""
    ) -> CheckoutSession:
        expires = max(
            order.reserved_until or timezone.now(),
            timezone.now() + timedelta(minutes=STRIPE_MIN_SESSION_MINUTES),
        )
        params = {
            "mode": "payment",
            "payment_method_types": ["card"],
            "line_items": _line_items(order),
            "client_reference_id": order.reference,
            "customer_email": order.user.email,
            "metadata": {"order_id": str(order.pk), "order_reference": order.reference},
            "payment_intent_data": {
                "metadata": {"order_id": str(order.pk), "order_reference": order.reference}
            },
            "expires_at": int(expires.timestamp()),
            "success_url": success_url,
            "cancel_url": cancel_url,
        }
        if submit_message:
            params["custom_text"] = {"submit": {"message": submit_message[:1200]}}
        try:
            session = self.client.v1.checkout.sessions.create(
                params, options={"idempotency_key": f"fairdraw-checkout-{order.pk}"}
            )
        except stripe.StripeError as exc:
            raise PaymentFailed("We could not start the payment. Please try again.") from exc
        return CheckoutSession(id=session.id, url=session.url)

    def card_funding(self, payment_intent_id: str) -> str:
        """Read from the payment's charge: `latest_charge.payment_method_details.card.funding`."""
        try:
            intent = self.client.v1.payment_intents.retrieve(
                payment_intent_id, {"expand": ["latest_charge"]}
            )
        except stripe.StripeError as exc:
            # Whatever went wrong (network, outage, a key without access), we must not decide
            # without the card type: the webhook fails and Stripe delivers it again.
            raise ProviderUnavailable(f"Could not read the card type from Stripe: {exc}") from exc
        charge = intent.to_dict().get("latest_charge")
        details = charge.get("payment_method_details") if isinstance(charge, dict) else None
        card = (details or {}).get("card") or {}
        return _funding(card.get("funding"))

    def expire_checkout(self, session_id: str) -> str:
        # No idempotency key: Stripe would replay a first 5xx answer to every retry, and
        # expiring twice is harmless anyway (the second attempt finds the session closed).
        try:
            session = self.client.v1.checkout.sessions.expire(session_id)
        except stripe.InvalidRequestError as exc:
            if exc.http_status == 404:
                raise PaymentFailed(f"Stripe has no checkout session {session_id}: {exc}") from exc
            # Stripe only expires an "open" session; one already closed answers 400. Ask which
            # way it closed rather than parse the wording.
            status = self._session_status(session_id)
            if status in ("expired", "complete"):
                return status
            raise PaymentFailed(f"Stripe would not expire {session_id}: {exc}") from exc
        except _TRANSIENT as exc:
            raise ProviderUnavailable(f"Could not expire {session_id} at Stripe: {exc}") from exc
        except stripe.StripeError as exc:
            raise PaymentFailed(f"Could not expire {session_id} at Stripe: {exc}") from exc
        return session.status

    def _session_status(self, session_id: str) -> str:
        try:
            return self.client.v1.checkout.sessions.retrieve(session_id).status
        except _TRANSIENT as exc:
            raise ProviderUnavailable(f"Could not read {session_id} from Stripe: {exc}") from exc
        except stripe.StripeError as exc:
            raise PaymentFailed(f"Could not read {session_id} from Stripe: {exc}") from exc

    def refund(
        self, *, payment_intent_id: str, amount_pence: int, idempotency_key: str, metadata: dict
    ) -> RefundResult:
        if not payment_intent_id:
            raise PaymentFailed("The order has no Stripe payment to refund.")
        try:
            # Stripe forgets an idempotency key after 24 hours, and a refund can be sent again
            # later than that (a staff retry after an outage): look for an earlier send of
            # this very refund first, by the metadata it carries, so it is never paid twice.
            earlier = self._earlier_refund(payment_intent_id, metadata)
            if earlier is not None:
                return RefundResult(id=earlier.id, status=earlier.status)
            refund = self.client.v1.refunds.create(
                {"payment_intent": payment_intent_id, "amount": amount_pence, "metadata": metadata},
                options={"idempotency_key": idempotency_key},
            )
        except _TRANSIENT as exc:
            # Sent again later with the same idempotency key: never paid out twice.
            raise ProviderUnavailable(str(exc)) from exc
        except stripe.StripeError as exc:
            raise PaymentFailed(str(exc)) from exc
        if refund.status in ("failed", "canceled"):
            raise PaymentFailed(f"Stripe refund {refund.id} {refund.status}.")
        return RefundResult(id=refund.id, status=refund.status)

    def _earlier_refund(self, payment_intent_id: str, metadata: dict):
        """A live Stripe refund already made for this refund row (same `refund_id` in its
        metadata), or None. Refunds of one payment are few: a page of 100 covers them."""
        wanted = metadata.get("refund_id")
        if not wanted:
            return None
        page = self.client.v1.refunds.list({"payment_intent": payment_intent_id, "limit": 100})
        for refund in page.data:
            sent_for = refund.metadata.to_dict() if refund.metadata else {}
            if sent_for.get("refund_id") == wanted and refund.status not in (
                "failed",
                "canceled",
            ):
                return refund
        return None


class DevGateway(PaymentGateway):
    """The embedded default: no provider, a local page plays Stripe's part."""

    name = "dev"

    def create_checkout(
        self, order, *, success_url: str, cancel_url: str, submit_message: str = ""
    ) -> CheckoutSession:
        url = reverse("tickets:dev_pay", kwargs={"reference": order.reference})
        return CheckoutSession(id=f"{DEV_SESSION_PREFIX}{order.reference}", url=url)

    def card_funding(self, payment_intent_id: str) -> str:
        """The card type the tester chose, carried in the dev payment-intent id."""
        prefix, _, funding = payment_intent_id.rpartition("_")
        return _funding(funding) if prefix.startswith(DEV_INTENT_PREFIX) else CardFunding.UNKNOWN

    def expire_checkout(self, session_id: str) -> str:
        # Nothing at a provider to close. The dev payment page stays usable, so a tester can
        # still try the late-payment path.
        return "expired"

    def refund(
        self, *, payment_intent_id: str, amount_pence: int, idempotency_key: str, metadata: dict
    ) -> RefundResult:
        return RefundResult(id="re_dev_" + secrets.token_hex(8), status="succeeded")


def _funding(value) -> str:
    return value if value in CardFunding.values else CardFunding.UNKNOWN


def is_stripe_session(session_id: str | None) -> bool:
    """Whether a checkout was opened at Stripe (the dev checkout's ids start `cs_dev_`)."""
    return bool(session_id) and not session_id.startswith(DEV_SESSION_PREFIX)


def get_gateway() -> PaymentGateway:
    if settings.STRIPE_SECRET_KEY:
        return StripeGateway(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE)
    if not settings.FAIRDRAW_DEV_TOOLS:  # never free tickets outside development
        raise ImproperlyConfigured("STRIPE_SECRET_KEY is not set: no payment provider.")
    return DevGateway()


# ---------------------------------------------------------------- webhooks


# Stripe refuses signatures older than this; we also refuse ones dated this far ahead (a
# clock that far out is not Stripe's, and a future date would let a captured body be replayed
# for longer).
WEBHOOK_TOLERANCE_SECONDS = stripe.Webhook.DEFAULT_TOLERANCE


class InvalidEvent(ValueError):
    """A correctly signed body that is not an event of the shape we act on."""


def verify_event(payload: bytes, signature_header: str, *, now: float | None = None) -> dict:
    """The event, if the body carries a valid signature with our secret, dated within
    WEBHOOK_TOLERANCE_SECONDS of now either way, and has the shape its handler relies on.

    Raises stripe.SignatureVerificationError for a signature that is missing, wrong or out of
    time, and InvalidEvent (a ValueError) for a body that is not such an event."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    stripe.WebhookSignature.verify_header(
        payload, signature_header, secret, WEBHOOK_TOLERANCE_SECONDS
    )
    # The SDK only refuses old signatures; the timestamp is authentic now that it verified.
    signed_at = _signature_timestamp(signature_header)
    if signed_at > (now if now is not None else time.time()) + WEBHOOK_TOLERANCE_SECONDS:
        raise stripe.SignatureVerificationError(
            f"Timestamp in the future, outside the tolerance zone ({signed_at})",
            signature_header,
            payload,
        )
    try:
        event = json.loads(payload)
    except ValueError as exc:
        raise InvalidEvent(f"not JSON: {exc}") from exc
    event_check(event)
    return event


def _signature_timestamp(header: str) -> int:
    for item in header.split(","):
        key, _, value = item.partition("=")
        if key == "t":
            return int(value)
    raise stripe.SignatureVerificationError("No timestamp in the signature", header)


# ------------------------------------------------------------- event shapes
# What the handlers (tickets.services.payment_events.EVENT_HANDLERS) read from `data.object`,
# so that a signed body of another shape is refused at the door, with nothing written, rather
# than failing half-way. Field -> check of its value (a missing field is None). Stripe
# documents more fields; only the ones we read are checked.

_TEXT_MAX = 255  # the longest provider id we store (tickets.models)
_PENCE_MAX = 10**11  # £1bn: well past any order, well inside the money columns


def _text(value) -> bool:
    return isinstance(value, str) and 0 < len(value) <= _TEXT_MAX


def _pence(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _PENCE_MAX


def _flag(value) -> bool:
    return isinstance(value, bool)


def _metadata(value) -> bool:
    """Stripe metadata: string keys and values; our order id, when present, is a row id."""
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        return False
    order_id = value.get("order_id")
    return order_id is None or (order_id.isascii() and order_id.isdigit() and len(order_id) <= 18)


def _payment_error(value) -> bool:
    return isinstance(value, dict) and all(
        value.get(key) is None or isinstance(value[key], str)
        for key in ("code", "decline_code", "message")
    )


def _optional(check):
    return lambda value: value is None or check(value)


_CHECKOUT_SESSION = {
    "id": _text,
    "metadata": _optional(_metadata),
    "client_reference_id": _optional(_text),
    "amount_total": _optional(_pence),
    "currency": _optional(_text),
    "payment_intent": _optional(_text),
    "payment_status": _optional(_text),
}
EVENT_SHAPES = {
    "checkout.session.completed": _CHECKOUT_SESSION,
    "checkout.session.async_payment_succeeded": _CHECKOUT_SESSION,
    "checkout.session.expired": _CHECKOUT_SESSION,
    "charge.refunded": {
        "id": _text,
        "payment_intent": _optional(_text),
        "amount_refunded": _optional(_pence),
        "refunded": _optional(_flag),
    },
    "payment_intent.payment_failed": {
        "id": _text,
        "metadata": _optional(_metadata),
        "last_payment_error": _optional(_payment_error),
    },
}


def event_check(event) -> None:
    """Raise InvalidEvent unless `event` is an event object whose `data.object` has the shape
    its type's handler reads. Events of other types need only an id, a type and a `data`
    object: they are recorded and ignored."""
    if not isinstance(event, dict):
        raise InvalidEvent(f"the event is a JSON {type(event).__name__}, not an object")
    if not _text(event.get("id")):
        raise InvalidEvent("the event has no id")
    event_type = event.get("type")
    if not isinstance(event_type, str) or not 0 < len(event_type) <= 100:
        raise InvalidEvent("the event has no type")
    data = event.get("data")
    shape = EVENT_SHAPES.get(event_type)
    if shape is None:
        if "data" in event and not isinstance(data, dict):
            raise InvalidEvent("`data` is not an object")
        return
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise InvalidEvent(f"{event_type} without a `data.object` object")
    wrong = [name for name, check in shape.items() if not check(obj.get(name))]
    if wrong:
        raise InvalidEvent(f"{event_type} with unexpected " + ", ".join(f"`{n}`" for n in wrong))


def sign(payload: str, *, secret: str | None = None, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header for `payload`: `t=<ts>,v1=<HMAC-SHA256(secret, "t.payload")>`."""
    return stripe.WebhookSignature.generate_signature_header(
        payload, secret or settings.STRIPE_WEBHOOK_SECRET, timestamp or int(time.time())
    )


DEV_INTENT_PREFIX = "pi_dev_"
DEV_CARD_TYPES = (CardFunding.DEBIT, CardFunding.CREDIT, CardFunding.PREPAID)


def dev_payment_intent_id(order, funding: str) -> str:
    """`pi_dev_<reference>_<funding>`: the dev checkout's stand-in for Stripe's payment."""
    return f"{DEV_INTENT_PREFIX}{order.reference}_{funding}"


def _dev_event(event_type: str, obj: dict) -> str:
    event = {
        "id": "evt_dev_" + secrets.token_hex(12),
        "object": "event",
        "api_version": "2025-01-27",
        "created": int(time.time()),
        "livemode": False,
        "type": event_type,
        "data": {"object": obj},
    }
    return json.dumps(event)


def dev_checkout_completed_event(order, funding: str = CardFunding.DEBIT) -> str:
    """The JSON body Stripe would send when this order's checkout is paid by a card of
    `funding` type."""
    session = {
        "id": order.stripe_checkout_session_id or f"{DEV_SESSION_PREFIX}{order.reference}",
        "object": "checkout.session",
        "amount_total": to_pence(order.total),
        "currency": order.currency.lower(),
        "client_reference_id": order.reference,
        "metadata": {"order_id": str(order.pk), "order_reference": order.reference},
        "mode": "payment",
        "payment_intent": dev_payment_intent_id(order, funding),
        "payment_status": "paid",
        "status": "complete",
    }
    return _dev_event("checkout.session.completed", session)


def dev_payment_failed_event(order, funding: str = CardFunding.DEBIT) -> str:
    """The JSON body Stripe would send when the card is declined on this order's checkout (the
    session stays open, so the customer may try another card)."""
    intent = {
        "id": dev_payment_intent_id(order, funding),
        "object": "payment_intent",
        "amount": to_pence(order.total),
        "currency": order.currency.lower(),
        "metadata": {"order_id": str(order.pk), "order_reference": order.reference},
        "status": "requires_payment_method",
        "last_payment_error": {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": "generic_decline",
            "message": "Your card was declined.",
        },
    }
    return _dev_event("payment_intent.payment_failed", intent)
