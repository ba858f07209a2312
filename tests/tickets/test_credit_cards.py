"""Credit cards under the UK prize-draw code of practice (tickets.cards).

Payments arrive through the webhook with real signature checks; Fairdraw asks the fake Stripe
(through the real SDK) which kind of card paid, and refunds what the rules refuse."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from competitions.models import Competition
from core.models import OperatorSettings
from notifications.models import Notification
from responsible_play.limits import month_bounds
from tests.factories import PrizeFactory, UserFactory, active_competition
from tickets import payments
from tickets.cards import credit_card_spend
from tickets.models import CardFunding, Order, PaymentEvent, Refund, Ticket
from tickets.services import order_refund, order_reserve

from .conftest import paid_event, post_event
from .helpers import line, reserve

pytestmark = pytest.mark.django_db


def set_credit_cap(amount: str) -> None:
    row = OperatorSettings.current()
    row.credit_card_monthly_cap = Decimal(amount)
    row.save()


def instant_win(competition: Competition) -> Competition:
    PrizeFactory(competition=competition, kind="instant", position=None)
    return competition


def pay(client, fake, order, *, funding, event_id=None):
    """Deliver Stripe's checkout.session.completed for `order` paid by a `funding` card."""
    event = paid_event(fake, order, funding=funding, event_id=event_id or f"evt_{order.pk}")
    response = post_event(client, event)
    assert response.status_code == 200, response.content
    order.refresh_from_db()
    return response.json()["outcome"]


@pytest.fixture
def customer():
    return UserFactory(email="card.holder@example.com")


@pytest.fixture
def fifties():
    """£50 tickets, up to 10 each: a few orders reach the default £250 credit-card cap."""
    return active_competition(ticket_price=Decimal("50.00"), max_tickets_per_user=10)


# ---------------------------------------------------------------- the monthly cap


def test_default_cap_is_250_and_a_credit_payment_reaching_it_exactly_is_kept(
    client, fake_stripe, customer, fifties
):
    assert OperatorSettings.current().credit_card_monthly_cap == Decimal("250.00")
    # One checkout at a time: a new one gives back the numbers of an unpaid one.
    first = reserve(customer, fifties, quantity=4)  # £200
    assert pay(client, fake_stripe, first, funding="credit") == "paid"
    second = reserve(customer, fifties, quantity=1)  # £50: exactly £250 by credit card
    assert pay(client, fake_stripe, second, funding="credit") == "paid"

    assert second.status == Order.Status.PAID
    assert second.card_funding == CardFunding.CREDIT
    assert second.tickets.filter(status=Ticket.Status.ACTIVE).count() == 1
    assert credit_card_spend(customer) == Decimal("250.00")


def test_the_next_credit_payment_over_the_cap_is_refunded_and_the_customer_told(
    client, fake_stripe, customer, fifties, django_capture_on_commit_callbacks
):
    pay(client, fake_stripe, reserve(customer, fifties, quantity=5), funding="credit")  # £250
    over = reserve(customer, fifties, quantity=1)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = pay(client, fake_stripe, over, funding="credit")

    assert outcome.startswith("refunded: Paying £50.00 by credit card would take you over")
    assert over.status == Order.Status.REFUNDED
    assert over.card_funding == CardFunding.CREDIT
    assert over.amount_refunded == Decimal("50.00")
    assert not over.tickets.exists()
    fifties.refresh_from_db()
    assert (fifties.tickets_sold, fifties.tickets_reserved) == (5, 0)
    refund = Refund.objects.get(order=over)
    assert refund.reason == Refund.Reason.CREDIT_CARD
    assert refund.amount == Decimal("50.00")
    assert "£0.00 left this month" in refund.note
    # The money really goes back, through Stripe.
    assert refund.status == Refund.Status.SUCCEEDED
    (call,) = fake_stripe.calls("POST", "/v1/refunds")
    assert call.params["payment_intent"] == f"pi_test_{over.pk}"
    assert call.params["amount"] == "5000"
    # The customer hears why, by e-mail.
    (mail,) = Notification.objects.filter(
        user=customer, kind=Notification.Kind.ORDER_REFUNDED, channel="email"
    )
    context = mail.payload["context"]
    assert context["amount"] == "£50.00"
    assert "can’t accept this payment by credit card" in context["reason"]
    assert "£250.00 a month you can pay by credit card" in context["reason"]
    # A refunded credit payment does not use up the cap.
    assert credit_card_spend(customer) == Decimal("250.00")


def test_debit_and_prepaid_payments_are_not_limited_by_the_credit_cap(
    client, fake_stripe, customer, fifties
):
    pay(client, fake_stripe, reserve(customer, fifties, quantity=5), funding="credit")  # cap used
    debit = reserve(customer, fifties, quantity=4)
    assert pay(client, fake_stripe, debit, funding="debit") == "paid"
    prepaid = reserve(customer, fifties, quantity=1)
    assert pay(client, fake_stripe, prepaid, funding="prepaid") == "paid"

    assert debit.card_funding == CardFunding.DEBIT
    assert prepaid.card_funding == CardFunding.PREPAID
    assert not Refund.objects.exists()
    assert credit_card_spend(customer) == Decimal("250.00")


def test_debit_spending_does_not_count_towards_the_credit_cap(
    client, fake_stripe, customer, fifties
):
    pay(client, fake_stripe, reserve(customer, fifties, quantity=5), funding="debit")
    credit = reserve(customer, fifties, quantity=5)
    assert pay(client, fake_stripe, credit, funding="credit") == "paid"


def test_the_cap_is_the_operators_setting(client, fake_stripe, customer):
    set_credit_cap("10.00")
    competition = active_competition(ticket_price=Decimal("2.50"))
    exactly = reserve(customer, competition, quantity=4)  # £10.00
    assert pay(client, fake_stripe, exactly, funding="credit") == "paid"
    over = reserve(customer, competition, quantity=1)
    assert pay(client, fake_stripe, over, funding="credit").startswith("refunded")
    assert Refund.objects.get().order == over


def test_refunded_credit_payments_free_the_cap_again(client, fake_stripe, customer, fifties):
    first = reserve(customer, fifties, quantity=5)
    pay(client, fake_stripe, first, funding="credit")
    order_refund(order=first, submit=False)

    again = reserve(customer, fifties, quantity=5)
    assert pay(client, fake_stripe, again, funding="credit") == "paid"


def test_last_months_credit_payments_do_not_count(client, fake_stripe, customer, fifties):
    earlier = reserve(customer, fifties, quantity=5)
    pay(client, fake_stripe, earlier, funding="credit")
    start, _ = month_bounds(timezone.now())
    Order.objects.filter(pk=earlier.pk).update(paid_at=start - timedelta(seconds=1))

    now_order = reserve(customer, fifties, quantity=5)
    assert pay(client, fake_stripe, now_order, funding="credit") == "paid"


# ---------------------------------------------------------------- instant wins


def test_a_credit_card_on_an_instant_win_order_is_refunded_even_for_one_pound(
    client, fake_stripe, customer, django_capture_on_commit_callbacks
):
    competition = instant_win(
        active_competition(title="Instant Cash Grab", ticket_price=Decimal("1.00"))
    )
    order = reserve(customer, competition, quantity=1)

    with django_capture_on_commit_callbacks(execute=True):
        outcome = pay(client, fake_stripe, order, funding="credit")

    assert "instant-win" in outcome
    assert order.status == Order.Status.REFUNDED
    assert order.card_funding == CardFunding.CREDIT
    assert not order.tickets.exists()
    refund = Refund.objects.get(order=order)
    assert refund.reason == Refund.Reason.CREDIT_CARD
    assert refund.amount == Decimal("1.00")
    assert "“Instant Cash Grab”" in refund.note
    reason = Notification.objects.get(user=customer, kind="order_refunded").payload["context"][
        "reason"
    ]
    assert "instant-win" in reason and "Instant Cash Grab" in reason


def test_an_instant_win_anywhere_in_the_basket_refuses_the_credit_card(
    client, fake_stripe, customer
):
    plain = active_competition()
    instant = instant_win(active_competition())
    order = order_reserve(user=customer, lines=[line(plain, quantity=1), line(instant, quantity=1)])
    assert pay(client, fake_stripe, order, funding="credit").startswith("refunded")
    assert not order.tickets.exists()


def test_a_debit_card_on_an_instant_win_order_is_fine(client, fake_stripe, customer):
    order = reserve(customer, instant_win(active_competition()), quantity=2)
    assert pay(client, fake_stripe, order, funding="debit") == "paid"
    assert order.card_funding == CardFunding.DEBIT


def test_a_late_credit_payment_is_refused_before_it_is_re_reserved(client, fake_stripe, customer):
    competition = instant_win(active_competition())
    order = reserve(customer, competition, quantity=2)
    Order.objects.filter(pk=order.pk).update(reserved_until=timezone.now() - timedelta(minutes=1))

    assert pay(client, fake_stripe, order, funding="credit").startswith("refunded")
    assert Refund.objects.get().reason == Refund.Reason.CREDIT_CARD
    competition.refresh_from_db()
    assert (competition.tickets_sold, competition.tickets_reserved) == (0, 0)


# ---------------------------------------------------------------- asking Stripe


def test_the_card_type_is_read_from_the_payments_latest_charge(client, fake_stripe, customer):
    order = reserve(customer, active_competition(), quantity=1)
    pay(client, fake_stripe, order, funding="prepaid")

    (call,) = fake_stripe.calls("GET", f"/v1/payment_intents/pi_test_{order.pk}")
    assert call.params["expand"] == ["latest_charge"]
    assert call.headers["authorization"] == "Bearer sk_test_fairdraw_fake"
    assert order.card_funding == CardFunding.PREPAID


def test_a_card_type_stripe_does_not_know_is_recorded_as_unknown(client, fake_stripe, customer):
    order = reserve(customer, active_competition(), quantity=1)
    assert pay(client, fake_stripe, order, funding="unknown") == "paid"
    assert order.card_funding == CardFunding.UNKNOWN


def test_duplicate_deliveries_do_not_ask_stripe_again(client, fake_stripe, customer):
    order = reserve(customer, active_competition(), quantity=1)
    event = paid_event(fake_stripe, order, funding="debit")
    post_event(client, event)
    assert post_event(client, event).json()["outcome"].startswith("duplicate event")
    assert len(fake_stripe.calls("GET", f"/v1/payment_intents/pi_test_{order.pk}")) == 1


def test_when_stripe_cannot_be_reached_the_webhook_fails_and_stripe_redelivers(
    client, fake_stripe, customer, fifties
):
    order = reserve(customer, fifties, quantity=1)
    event = paid_event(fake_stripe, order, funding="credit")
    fake_stripe.unavailable = True

    response = post_event(client, event)

    assert response.status_code == 503
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
    assert order.tickets.filter(status=Ticket.Status.RESERVED).count() == 1
    recorded = PaymentEvent.objects.get()
    assert recorded.processed_at is None
    assert "Could not read the card type" in recorded.outcome

    # Stripe delivers the same event again once it is back: processed once, as usual.
    fake_stripe.unavailable = False
    response = post_event(client, event)
    assert response.status_code == 200
    assert response.json()["outcome"] == "paid"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.card_funding == CardFunding.CREDIT
    assert PaymentEvent.objects.get().processed_at is not None


def test_when_nothing_listens_at_stripe_the_webhook_fails(client, fake_stripe, settings):
    order = reserve(UserFactory(), active_competition(), quantity=1)
    event = paid_event(fake_stripe, order, funding="debit")
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    assert post_event(client, event).status_code == 503
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING


@pytest.mark.django_db(transaction=True)
def test_stripe_is_asked_before_any_database_lock(client, fake_stripe, monkeypatch):
    """A slow Stripe must never hold up other buyers: no transaction is open while we wait."""
    seen = []
    original = payments.StripeGateway.card_funding

    def spy(self, payment_intent_id):
        seen.append(connection.in_atomic_block)
        return original(self, payment_intent_id)

    monkeypatch.setattr(payments.StripeGateway, "card_funding", spy)
    order = reserve(UserFactory(), active_competition(), quantity=1)
    assert pay(client, fake_stripe, order, funding="debit") == "paid"
    assert seen == [False]


def test_already_paid_orders_are_not_looked_up_again(client, fake_stripe, customer):
    order = reserve(customer, active_competition(), quantity=1)
    pay(client, fake_stripe, order, funding="debit", event_id="evt_a")
    second = paid_event(fake_stripe, order, funding="credit", event_id="evt_b")
    assert post_event(client, second).json()["outcome"] == "already paid"
    assert len(fake_stripe.calls("GET", f"/v1/payment_intents/pi_test_{order.pk}")) == 1
    order.refresh_from_db()
    assert order.card_funding == CardFunding.DEBIT
