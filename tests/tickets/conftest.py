import json
import time

import pytest

from tests.fakes import stripe_server
from tickets import payments


@pytest.fixture
def fake_stripe(settings):
    """The real Stripe SDK talking to a local fake Stripe (never the network)."""
    fake, server = stripe_server.start()
    settings.STRIPE_SECRET_KEY = "sk_test_fairdraw_fake"
    settings.STRIPE_API_BASE = fake.url
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_fairdraw"
    yield fake
    server.shutdown()
    server.server_close()


def completed_event(order, *, event_id="evt_test_1", amount_pence=None, session_id=None) -> dict:
    return {
        "id": event_id,
        "object": "event",
        "type": "checkout.session.completed",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": session_id or order.stripe_checkout_session_id or f"cs_x_{order.pk}",
                "object": "checkout.session",
                "amount_total": payments.to_pence(order.total)
                if amount_pence is None
                else amount_pence,
                "currency": "gbp",
                "client_reference_id": order.reference,
                "metadata": {"order_id": str(order.pk), "order_reference": order.reference},
                "payment_intent": f"pi_test_{order.pk}",
                "payment_status": "paid",
                "status": "complete",
            }
        },
    }


def paid_event(fake, order, *, funding="debit", **kw) -> dict:
    """`completed_event` for a payment the fake Stripe knows, made by a card of `funding` type
    (Fairdraw asks Stripe for it before fulfilling the order)."""
    event = completed_event(order, **kw)
    session = event["data"]["object"]
    fake.add_payment(session["payment_intent"], amount=session["amount_total"], funding=funding)
    return event


def post_event(client, event: dict, *, secret=None, timestamp=None, body=None):
    """Deliver an event to the webhook as Stripe would: JSON body + Stripe-Signature."""
    payload = json.dumps(event)
    header = payments.sign(payload, secret=secret, timestamp=timestamp)
    return client.post(
        "/webhooks/stripe/",
        data=body if body is not None else payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header,
    )
