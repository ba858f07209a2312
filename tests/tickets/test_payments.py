"""The Stripe adapter, exercised through the real SDK against a local fake Stripe."""

from decimal import Decimal

import pytest

from tests.factories import UserFactory, active_competition
from tickets import payments
from tickets.exceptions import PaymentFailed
from tickets.services import order_checkout_start

from .helpers import reserve

pytestmark = pytest.mark.django_db


def test_money_in_pence():
    assert payments.to_pence(Decimal("2.50")) == 250
    assert payments.to_pence(Decimal("0.99") * 7) == 693
    assert payments.from_pence(693) == Decimal("6.93")
    assert payments.from_pence(None) is None


def test_gateway_follows_the_settings(settings):
    settings.STRIPE_SECRET_KEY = ""
    assert isinstance(payments.get_gateway(), payments.DevGateway)
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    assert isinstance(payments.get_gateway(), payments.StripeGateway)


def test_checkout_session_carries_the_order(fake_stripe):
    competition = active_competition(ticket_price=Decimal("2.50"))
    user = UserFactory(email="buyer@example.com")
    order = reserve(user, competition, quantity=2, numbers=[5])

    url = order_checkout_start(
        order=order, success_url="http://t/success/", cancel_url="http://t/cancel/"
    )

    (call,) = fake_stripe.calls("POST", "/v1/checkout/sessions")
    params = call.params
    assert params["mode"] == "payment"
    assert params["payment_method_types"] == ["card"]
    assert params["metadata"] == {"order_id": str(order.pk), "order_reference": order.reference}
    assert params["client_reference_id"] == order.reference
    assert params["customer_email"] == "buyer@example.com"
    (item,) = params["line_items"]
    assert item["quantity"] == "3"
    assert item["price_data"]["unit_amount"] == "250"
    assert item["price_data"]["currency"] == "gbp"
    assert "numbers 5" in item["price_data"]["product_data"]["name"]
    # Stripe needs 30+ minutes; our reservation is shorter and late payments are handled.
    assert int(params["expires_at"]) >= order.reserved_until.timestamp()
    assert int(params["expires_at"]) - order.created_at.timestamp() >= 30 * 60
    assert call.headers["authorization"] == "Bearer sk_test_fairdraw_fake"
    order.refresh_from_db()
    assert order.stripe_checkout_session_id in fake_stripe.sessions
    assert url == fake_stripe.sessions[order.stripe_checkout_session_id]["url"]


def test_provider_failure_gives_the_numbers_back(fake_stripe, settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    competition = active_competition()
    order = reserve(UserFactory(), competition, quantity=2)
    with pytest.raises(PaymentFailed):
        order_checkout_start(order=order, success_url="http://t/s/", cancel_url="http://t/c/")
    order.refresh_from_db()
    assert order.status == order.Status.CANCELLED
    competition.refresh_from_db()
    assert competition.tickets_reserved == 0


def test_dev_event_is_signed_like_stripe(settings):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_abc"
    order = reserve(UserFactory(), active_competition(), quantity=1)
    body = payments.dev_checkout_completed_event(order)
    event = payments.verify_event(body.encode(), payments.sign(body))
    assert event["type"] == "checkout.session.completed"
    assert event["data"]["object"]["metadata"]["order_id"] == str(order.pk)
