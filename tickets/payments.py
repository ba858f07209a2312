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
    items = []
    for line in order.lines.select_related("competition"):
        name = line.competition.title
        if line.chosen_numbers:
            name += " – numbers " + ", ".join(str(n) for n in sorted(line.chosen_numbers))
        items.append(
            {
                "price_data": {
                    "currency": order.currency.lower(),
                    "unit_amount": to_pence(line.unit_price),
                    "product_data": {"name": name[:250]},
                },
                "quantity": line.quantity,
            }
        )
    return items


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


def verify_event(payload: bytes, signature_header: str) -> dict:
    """The event, if the body carries a valid, recent (5 minutes) signature with our secret.
    Raises stripe.SignatureVerificationError (or ValueError for a body that is not JSON)."""
    stripe.Webhook.construct_event(payload, signature_header, settings.STRIPE_WEBHOOK_SECRET)
    return json.loads(payload)


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
