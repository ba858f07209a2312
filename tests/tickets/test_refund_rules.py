"""The refund rules, once (tickets.services.refunds), and the audit entries the services write."""

from decimal import Decimal

import pytest
from django.utils import timezone

from competitions.lifecycle import Status
from competitions.models import Competition
from core.models import AuditEntry
from tests.factories import UserFactory, active_competition
from tickets.exceptions import RefundRefused, SalesClosed
from tickets.models import Order, Receipt, Refund, Ticket
from tickets.services import (
    order_fulfil,
    order_refund,
    order_reserve,
    postal_entry_add,
    provider_refund_record,
    refund_plan,
    refund_retry,
    tickets_refund,
)

from .helpers import line, reserve

pytestmark = pytest.mark.django_db


def paid(order):
    order_fulfil(order_id=order.pk, payment_intent_id=f"pi_test_{order.pk}")
    order.refresh_from_db()
    return order


def draw(competition):
    Competition.objects.filter(pk=competition.pk).update(status=Status.DRAWN)


def entries(action):
    return list(AuditEntry.objects.filter(action=action))


def test_the_plan_lists_what_can_be_refunded_and_why_the_rest_cannot():
    competition = active_competition(ticket_price=Decimal("2.50"))
    customer = UserFactory()
    order = paid(reserve(customer, competition, numbers=[1, 2, 3]))
    [postal] = postal_entry_add(user=customer, competition=competition)
    one, two, three = order.tickets.order_by("number")
    order_refund(order=order, tickets=[three])

    tickets = Ticket.objects.filter(pk__in=[one.pk, two.pk, three.pk, postal.pk])
    plan = refund_plan(tickets=tickets.select_related("competition").order_by("number"))

    assert [t.number for t in plan.refundable] == [1, 2]
    assert plan.amount == Decimal("5.00")
    assert any("#3" in why and "refunded" in why for why in plan.refused)
    assert any(f"#{postal.number}" in why and "postal" in why for why in plan.refused)
    # A preview: nothing refunded but the ticket refunded before it.
    assert list(Ticket.objects.filter(status=Ticket.Status.REFUNDED)) == [three]


def test_tickets_refund_refunds_order_by_order_and_lists_the_refusals():
    first, second = active_competition(), active_competition()
    staff = UserFactory()
    a = paid(reserve(UserFactory(), first, quantity=2))
    b = paid(reserve(UserFactory(), second, quantity=1))
    draw(second)

    result = tickets_refund(
        tickets=Ticket.objects.filter(order__in=[a, b]).select_related("competition"),
        by=staff,
        note="asked",
    )

    assert result.tickets == 2 and len(result.refunds) == 1
    assert result.refused == [f"#{b.tickets.get().number} in {second}: drawn, no more refunds."]
    assert Order.objects.get(pk=a.pk).status == Order.Status.REFUNDED
    assert Order.objects.get(pk=b.pk).status == Order.Status.PAID
    [entry] = entries("order.refund")
    assert entry.actor == staff and entry.object_id == str(a.pk) and entry.note == "asked"


def test_an_order_with_one_ticket_in_a_drawn_competition_is_refused_whole():
    open_one, drawn = active_competition(), active_competition()
    order = paid(
        order_reserve(
            user=UserFactory(), lines=[line(open_one, quantity=1), line(drawn, quantity=1)]
        )
    )
    draw(drawn)

    with pytest.raises(RefundRefused, match="drawn"):
        order_refund(order=order, tickets=list(order.tickets.all()))

    assert set(order.tickets.values_list("status", flat=True)) == {Ticket.Status.ACTIVE}
    assert not Refund.objects.exists()
    assert entries("order.refund") == []


def test_a_postal_entry_is_refused_by_the_refund_service_itself():
    competition = active_competition()
    customer = UserFactory()
    order = paid(reserve(customer, competition, quantity=1))
    [postal] = postal_entry_add(user=customer, competition=competition)

    with pytest.raises(RefundRefused):
        order_refund(order=order, tickets=[postal])
    result = tickets_refund(tickets=[postal], by=None)

    assert result.tickets == 0 and "postal" in result.refused[0]
    assert Ticket.objects.get(pk=postal.pk).status == Ticket.Status.ACTIVE


def test_a_refund_writes_its_own_audit_entry():
    competition = active_competition(ticket_price=Decimal("2.50"))
    staff = UserFactory()
    order = paid(reserve(UserFactory(), competition, numbers=[4, 7]))

    refund = order_refund(order=order, by=staff, note="by phone", submit=False)

    [entry] = entries("order.refund")
    assert entry.actor == staff and entry.note == "by phone"
    assert entry.before == {"status": "paid", "amount_refunded": "0.00"}
    assert entry.after["refund_id"] == refund.pk and entry.after["tickets"] == [4, 7]
    assert entry.after["status"] == "refunded" and entry.after["amount"] == "5.00"


def test_postal_entries_on_a_drawn_competition_are_refused_and_nothing_is_written():
    competition = active_competition()
    draw(competition)

    with pytest.raises(SalesClosed, match="has been drawn"):
        postal_entry_add(user=UserFactory(), competition=competition)

    assert not Ticket.objects.exists()
    assert entries("ticket.postal_entry") == []


def test_a_purchase_on_a_drawn_competition_says_it_has_been_drawn():
    competition = active_competition()
    draw(competition)

    with pytest.raises(SalesClosed, match="has been drawn"):
        reserve(UserFactory(), competition, quantity=1)
    assert not Order.objects.exists()


def test_a_postal_entry_writes_its_own_audit_entry():
    competition = active_competition()
    staff, customer = UserFactory(), UserFactory()

    tickets = postal_entry_add(
        user=customer, competition=competition, quantity=2, by=staff, note="postcard"
    )

    [entry] = entries("ticket.postal_entry")
    assert entry.actor == staff and entry.note == "postcard"
    assert entry.object_id == str(competition.pk)
    receipt = Receipt.objects.get(kind=Receipt.Kind.POSTAL).reference
    assert entry.after == {
        "user": customer.email,
        "numbers": sorted(t.number for t in tickets),
        "received_on": timezone.localdate().isoformat(),  # the postcard arrived today
        "receipt": receipt,
    }


def test_a_retry_writes_its_own_audit_entry(fake_stripe):
    competition = active_competition()
    staff = UserFactory()
    order = paid(reserve(UserFactory(), competition, quantity=1))
    refund = order_refund(order=order, submit=False)
    Refund.objects.filter(pk=refund.pk).update(status=Refund.Status.FAILED, failure_message="x")

    result = refund_retry(refund=refund, by=staff)

    assert result.status == Refund.Status.SUCCEEDED
    [entry] = entries("refund.retry")
    assert entry.actor == staff and entry.object_id == str(refund.pk)
    assert entry.before == {"status": "failed"}
    assert entry.after == {"status": "succeeded", "failure_message": ""}


def test_a_refund_not_failed_is_not_recorded_as_retried(fake_stripe):
    order = paid(reserve(UserFactory(), active_competition(), quantity=1))
    refund = order_refund(order=order, submit=False)

    refund_retry(refund=refund)

    assert entries("refund.retry") == []


def test_a_partial_refund_at_the_provider_is_recorded_and_audited():
    competition = active_competition(ticket_price=Decimal("2.50"))
    order = paid(reserve(UserFactory(), competition, quantity=2))

    outcome = provider_refund_record(
        order=order, amount_refunded=Decimal("1.00"), whole=False, now=timezone.now()
    )

    assert outcome == "partial refund at the provider recorded"
    order.refresh_from_db()
    assert order.amount_refunded == Decimal("1.00") and order.status == Order.Status.PAID
    assert set(order.tickets.values_list("status", flat=True)) == {Ticket.Status.ACTIVE}
    [entry] = entries("order.refund")
    assert entry.actor is None and entry.after["amount"] == "1.00"
