"""Refunds: whole orders or single tickets, numbers back on sale, never after the draw."""

from decimal import Decimal

import pytest

from competitions.lifecycle import Status
from competitions.models import Competition
from tests.factories import UserFactory, active_competition
from tickets.exceptions import RefundRefused
from tickets.models import Order, Refund, Ticket
from tickets.services import order_fulfil, order_refund, refund_retry

from .helpers import reserve

pytestmark = pytest.mark.django_db


def paid_order(competition, **kw):
    order = reserve(UserFactory(), competition, **kw)
    order_fulfil(order_id=order.pk, payment_intent_id=f"pi_test_{order.pk}")
    order.refresh_from_db()
    return order


def sold(competition):
    return Competition.objects.get(pk=competition.pk).tickets_sold


def test_whole_order_refund_through_stripe(fake_stripe, django_capture_on_commit_callbacks):
    competition = active_competition(ticket_price=Decimal("2.50"))
    order = paid_order(competition, quantity=2, numbers=[9])

    with django_capture_on_commit_callbacks(execute=True):
        refund = order_refund(order=order, note="Customer asked")

    refund.refresh_from_db()
    assert refund.amount == Decimal("7.50")
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.provider_refund_id.startswith("re_test_")
    assert refund.tickets.count() == 3
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert order.amount_refunded == Decimal("7.50")
    assert set(order.tickets.values_list("status", flat=True)) == {Ticket.Status.REFUNDED}
    assert all(t.refunded_at for t in order.tickets.all())
    assert sold(competition) == 0
    (call,) = fake_stripe.calls("POST", "/v1/refunds")
    assert call.params["amount"] == "750"
    assert call.params["payment_intent"] == f"pi_test_{order.pk}"
    assert call.headers["idempotency-key"] == f"fairdraw-refund-{refund.pk}"
    # The number is for sale again.
    again = paid_order(competition, numbers=[9])
    assert list(again.tickets.values_list("number", flat=True)) == [9]


def test_single_ticket_refund_is_partial(django_capture_on_commit_callbacks):
    competition = active_competition(ticket_price=Decimal("0.99"))
    order = paid_order(competition, quantity=3)
    ticket = order.tickets.first()

    with django_capture_on_commit_callbacks(execute=True):
        refund = order_refund(order=order, tickets=[ticket])

    refund.refresh_from_db()
    assert refund.amount == Decimal("0.99")
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.provider_refund_id.startswith("re_dev_")  # the dev gateway
    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_REFUNDED
    assert order.amount_refunded == Decimal("0.99")
    assert sold(competition) == 2
    with pytest.raises(RefundRefused):
        order_refund(order=order, tickets=[ticket])  # already refunded
    order_refund(order=order)
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert order.amount_refunded == Decimal("2.97")


def test_refund_refused_once_drawn():
    competition = active_competition()
    order = paid_order(competition, quantity=1)
    Competition.objects.filter(pk=competition.pk).update(status=Status.DRAWN)
    with pytest.raises(RefundRefused, match="drawn"):
        order_refund(order=order)
    assert Ticket.objects.get(order=order).status == Ticket.Status.ACTIVE
    assert not Refund.objects.exists()


def test_refund_refused_for_an_unpaid_order():
    order = reserve(UserFactory(), active_competition(), quantity=1)
    with pytest.raises(RefundRefused):
        order_refund(order=order)


def test_failed_provider_refund_is_recorded_and_can_be_retried(
    fake_stripe, django_capture_on_commit_callbacks
):
    competition = active_competition()
    order = paid_order(competition, quantity=1)
    fake_stripe.fail_refunds = True
    with django_capture_on_commit_callbacks(execute=True):
        refund = order_refund(order=order)
    refund.refresh_from_db()
    assert refund.status == Refund.Status.FAILED
    assert refund.failure_message

    fake_stripe.fail_refunds = False
    refund = refund_retry(refund=refund)
    assert refund.status == Refund.Status.SUCCEEDED
    keys = {c.headers["idempotency-key"] for c in fake_stripe.calls("POST", "/v1/refunds")}
    assert keys == {f"fairdraw-refund-{refund.pk}"}
