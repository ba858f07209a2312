"""Selling raises the customer's and operators' messages in the outbox, with the change."""

import pytest

from notifications.models import Notification
from tests.factories import UserFactory, active_competition
from tickets.models import Order
from tickets.services import order_fulfil, order_refund

from .helpers import reserve

pytestmark = pytest.mark.django_db

Kind = Notification.Kind


def kinds_for(user):
    return sorted(Notification.objects.filter(user=user).values_list("kind", "channel"))


def test_reserving_starts_checkout_for_a_consenting_customer():
    user = UserFactory(marketing_consent=True)
    reserve(user, active_competition(), quantity=2)
    assert (Kind.CHECKOUT_STARTED, "klaviyo") in kinds_for(user)


def test_paying_places_the_order_and_confirms_it_by_email_and_sms():
    user = UserFactory(phone="+447700900123")
    order = reserve(user, active_competition(), quantity=2)
    order_fulfil(order_id=order.pk)

    sent = kinds_for(user)
    assert (Kind.ORDER_PLACED, "email") in sent
    assert (Kind.ORDER_PLACED, "sms") in sent


def test_replaying_the_payment_sends_nothing_new():
    user = UserFactory(phone="+447700900123")
    order = reserve(user, active_competition(), quantity=2)
    order_fulfil(order_id=order.pk)
    before = Notification.objects.count()
    order_fulfil(order_id=order.pk)
    assert Notification.objects.count() == before


def test_the_sale_of_the_last_ticket_alerts_the_operators(settings):
    settings.ADMINS = [("Ops", "ops@fairdraw.example")]
    competition = active_competition(max_tickets=3, max_tickets_per_user=3)
    order = reserve(UserFactory(), competition, quantity=3)
    assert not Notification.objects.filter(recipient="ops@fairdraw.example").exists()

    order_fulfil(order_id=order.pk)

    alert = Notification.objects.get(recipient="ops@fairdraw.example")
    assert alert.kind == Kind.ADMIN_ALERT
    assert "Sold out" in alert.payload["subject"]


def test_a_refund_tells_the_customer_how_much_and_why(fake_stripe):
    user = UserFactory()
    order = reserve(user, active_competition(), quantity=2)
    order_fulfil(order_id=order.pk)
    order = Order.objects.get(pk=order.pk)

    refund = order_refund(order=order, submit=False)

    message = Notification.objects.get(user=user, kind=Kind.ORDER_REFUNDED)
    assert message.channel == "email"
    assert message.payload["context"]["amount"] == f"£{refund.amount}"
    assert message.payload["context"]["reason"] == "Requested by the customer"
