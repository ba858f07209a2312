"""A payment arriving after the reservation lapsed is re-reserved only if a new checkout would be
allowed: the customer's spend limits and eligibility apply as well as the sale rules."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.services import user_ban
from notifications.models import Notification
from responsible_play import limits
from responsible_play.services import user_self_exclude, user_take_break
from tests.factories import UserFactory, active_competition, operator_settings
from tickets import spending
from tickets.models import Order, Refund, Ticket
from tickets.services import order_fulfil, reservations_release_expired

from .helpers import reserve

pytestmark = pytest.mark.django_db


def lapse(order):
    Order.objects.filter(pk=order.pk).update(reserved_until=timezone.now() - timedelta(minutes=1))
    assert reservations_release_expired() == 1


def pay_late(order):
    return order_fulfil(
        order_id=order.pk, amount_paid=order.total, payment_intent_id=f"pi_late_{order.pk}"
    )


def assert_refunded_without_tickets(order, competition, result):
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert order.amount_refunded == order.total
    assert not order.tickets.exists()
    competition.refresh_from_db()
    assert competition.tickets_reserved == 0
    refund = Refund.objects.get(order=order)
    assert refund.reason == Refund.Reason.LATE_PAYMENT
    assert refund.amount == order.total
    assert result.refund == refund
    mail = Notification.objects.get(user=order.user, kind=Notification.Kind.ORDER_REFUNDED)
    assert "after your reservation ended" in mail.payload["context"]["reason"]
    return refund


@pytest.fixture
def competition():
    return active_competition(ticket_price=Decimal("2.50"))


def test_a_late_payment_that_fits_the_limit_exactly_is_re_reserved(competition):
    """The lapsed order holds nothing any more, so it is not counted against itself."""
    customer = UserFactory()
    limits.spend_limit_set(user=customer, monthly_limit=Decimal("7.50"))
    order = reserve(customer, competition, quantity=3)  # £7.50
    lapse(order)

    result = pay_late(order)

    assert result.outcome == "paid after the reservation lapsed"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.tickets.filter(status=Ticket.Status.ACTIVE).count() == 3
    assert spending.monthly_spend(customer) == Decimal("7.50")


def test_a_late_payment_over_a_limit_lowered_meanwhile_is_refunded(competition):
    customer = UserFactory()
    order = reserve(customer, competition, quantity=3)  # £7.50
    lapse(order)
    limits.spend_limit_set(user=customer, monthly_limit=Decimal("5.00"))

    result = pay_late(order)

    refund = assert_refunded_without_tickets(order, competition, result)
    assert "would take you over your monthly limit of £5.00" in refund.note
    assert "you can spend £5.00 more this month" in refund.note
    assert spending.monthly_spend(customer) == Decimal("0.00")


def test_a_late_payment_after_spending_elsewhere_meanwhile_is_refunded(competition):
    customer = UserFactory()
    limits.spend_limit_set(user=customer, monthly_limit=Decimal("10.00"))
    late = reserve(customer, competition, quantity=3)  # £7.50
    lapse(late)
    meanwhile = reserve(customer, competition, quantity=2)  # £5.00, fits once the first lapsed
    pay_late(meanwhile)

    result = pay_late(late)

    refund = assert_refunded_without_tickets(late, competition, result)
    assert "you can spend £5.00 more this month" in refund.note
    assert spending.monthly_spend(customer) == Decimal("5.00")


def test_the_operators_cap_applies_to_late_payments_too(competition):
    operator_settings(monthly_spend_cap=Decimal("100.00"))
    order = reserve(UserFactory(), competition, quantity=3)
    lapse(order)
    operator_settings(monthly_spend_cap=Decimal("5.00"))

    result = pay_late(order)

    assert "monthly limit of £5.00 we set for every customer" in result.refund.note


def test_a_late_payment_from_a_customer_banned_meanwhile_is_refunded(competition):
    customer = UserFactory()
    order = reserve(customer, competition, quantity=1)
    lapse(order)
    user_ban(user=customer, by=UserFactory(is_staff=True), reason="Chargeback fraud")

    result = pay_late(order)

    refund = assert_refunded_without_tickets(order, competition, result)
    assert refund.note.startswith("Only adults (18+) with an account in good standing")


def test_a_late_payment_from_a_customer_who_self_excluded_meanwhile_is_refunded(competition):
    customer = UserFactory()
    order = reserve(customer, competition, quantity=1)
    lapse(order)
    user_self_exclude(user=customer, months=6)

    result = pay_late(order)

    refund = assert_refunded_without_tickets(order, competition, result)
    assert refund.note.startswith("You have self-excluded")


def test_a_refused_late_payment_reports_the_sale_rule_before_the_limit():
    """Numbers sold meanwhile are the reason given, not the spend limit."""
    customer = UserFactory()
    competition = active_competition()
    order = reserve(customer, competition, numbers=[5])
    lapse(order)
    pay_late(reserve(UserFactory(), competition, numbers=[5]))
    limits.spend_limit_set(user=customer, monthly_limit=Decimal("0.00"))

    result = pay_late(order)

    assert result.refund.note.startswith("Sorry, these numbers are already taken: 5.")


@pytest.mark.parametrize("bar", ["self-exclude", "take a break", "ban"])
def test_a_payment_in_time_from_a_customer_barred_since_checkout_is_refunded(competition, bar):
    """The reservation has not lapsed, but the customer may no longer buy: no tickets."""
    customer = UserFactory()
    order = reserve(customer, competition, quantity=2)
    if bar == "self-exclude":
        user_self_exclude(user=customer, months=6)
    elif bar == "take a break":
        user_take_break(user=customer, days=7)
    else:
        user_ban(user=customer, by=UserFactory(is_staff=True), reason="Chargeback fraud")

    result = order_fulfil(order_id=order.pk, amount_paid=order.total, payment_intent_id="pi_in")

    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert not order.tickets.exists()
    competition.refresh_from_db()
    assert (competition.tickets_sold, competition.tickets_reserved) == (0, 0)
    assert result.refund.reason == Refund.Reason.OTHER
    assert result.refund.amount == order.total
    mail = Notification.objects.get(user=customer, kind=Notification.Kind.ORDER_REFUNDED)
    assert "No tickets were issued" in mail.payload["context"]["reason"]
    assert result.refund.note in mail.payload["context"]["reason"]


def test_a_payment_racing_the_release_of_its_lapsed_reservation_is_issued_once(monkeypatch):
    """The usual payment is prepared before it claims the order; if the order stops being
    pending meanwhile (here the periodic release wins the race), nothing prepared is used: the
    payment is judged again on the locked rows, and the confirmation lists the new numbers."""
    from tickets import services
    from tickets.services import fulfilment

    competition = active_competition(max_tickets=1000, max_tickets_per_user=10)
    customer = UserFactory()
    order = reserve(
        customer, competition, numbers=[5, 6], now=timezone.now() - timedelta(minutes=30)
    )
    real_claim = fulfilment._claim_paid_writing
    raced = []

    def release_first(order, **kw):
        if not raced:
            raced.append(True)
            assert services.order_release(order_id=order.pk)
        return real_claim(order, **kw)

    monkeypatch.setattr(fulfilment, "_claim_paid_writing", release_first)

    result = pay_late(order)

    assert result.outcome == "paid after the reservation lapsed"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    numbers = sorted(order.tickets.values_list("number", flat=True))
    assert numbers == [5, 6]
    assert set(order.tickets.values_list("status", flat=True)) == {Ticket.Status.ACTIVE}
    competition.refresh_from_db()
    assert (competition.tickets_sold, competition.tickets_reserved) == (2, 0)
    (email,) = Notification.objects.filter(kind=Notification.Kind.ORDER_PLACED, channel="email")
    assert email.payload["context"]["lines"][0]["ticket_numbers"] == [5, 6]


def test_a_payment_whose_numbers_went_to_someone_else_during_the_race_is_refunded(monkeypatch):
    from tickets import services
    from tickets.services import fulfilment

    competition = active_competition(max_tickets=1000, max_tickets_per_user=10)
    order = reserve(
        UserFactory(), competition, numbers=[5, 6], now=timezone.now() - timedelta(minutes=30)
    )
    rival = UserFactory()
    real_claim = fulfilment._claim_paid_writing
    raced = []

    def release_and_resell_first(paying, **kw):
        if not raced:
            raced.append(True)
            assert services.order_release(order_id=order.pk)
            reserve(rival, competition, numbers=[6])
        return real_claim(paying, **kw)

    monkeypatch.setattr(fulfilment, "_claim_paid_writing", release_and_resell_first)

    result = pay_late(order)

    assert result.outcome.startswith("refunded: ")
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert not order.tickets.exists()
    assert not Notification.objects.filter(kind=Notification.Kind.ORDER_PLACED).exists()
    assert Ticket.objects.get(competition=competition, number=6).user == rival
    competition.refresh_from_db()
    assert (competition.tickets_sold, competition.tickets_reserved) == (0, 1)
