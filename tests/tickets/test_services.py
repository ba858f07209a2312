"""Selling tickets: the right numbers, the right money, and never more than the rules allow."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from competitions.lifecycle import Status
from competitions.models import Competition
from tests.factories import (
    CompetitionFactory,
    TicketFactory,
    UserFactory,
    active_competition,
    correct_answer,
    draft_ready_to_activate,
    wrong_answer,
)
from tickets.exceptions import (
    AnswerRequired,
    LimitReached,
    NotEligible,
    NumberTaken,
    SalesClosed,
    SoldOut,
)
from tickets.models import Order, Ticket
from tickets.services import order_record_paid, postal_entry_add

pytestmark = pytest.mark.django_db


def buy(competition, user=None, *, answer=None, **kw):
    kw.setdefault("now", timezone.now())
    return order_record_paid(
        user=user or UserFactory(),
        competition=competition,
        answer=answer or correct_answer(competition),
        **kw,
    )


def sold(competition):
    return Competition.objects.get(pk=competition.pk).tickets_sold


def test_lucky_dip_issues_distinct_numbers_within_range():
    competition = active_competition(max_tickets=100)
    user = UserFactory()
    order = buy(competition, user, quantity=5)

    numbers = list(order.tickets.values_list("number", flat=True))
    assert len(numbers) == 5
    assert len(set(numbers)) == 5
    assert all(1 <= n <= 100 for n in numbers)
    assert set(Ticket.objects.filter(user=user).values_list("status", flat=True)) == {"active"}
    assert sold(competition) == 5


def test_paid_order_records_money_and_one_line():
    now = timezone.now()
    competition = active_competition(ticket_price=Decimal("2.50"))
    user = UserFactory()
    order = buy(competition, user, quantity=3, payment_reference="pi_123", now=now)

    order.refresh_from_db()
    assert order.user == user
    assert order.status == Order.Status.PAID
    assert order.paid_at == now
    assert order.total == Decimal("7.50")
    assert order.stripe_payment_intent_id == "pi_123"
    (line,) = order.lines.all()
    assert line.competition_id == competition.pk
    assert line.quantity == 3
    assert line.unit_price == Decimal("2.50")
    assert line.line_total == Decimal("7.50")
    assert line.answer == correct_answer(competition)
    assert order.tickets.count() == 3
    assert all(t.purchased_at == now for t in order.tickets.all())


def test_awkward_price_totals_exactly():
    competition = active_competition(ticket_price=Decimal("0.99"))
    order = buy(competition, quantity=7)
    order.refresh_from_db()
    assert order.total == Decimal("6.93")


def test_chosen_numbers_are_honoured():
    competition = active_competition()
    order = buy(competition, numbers=[42, 7, 99])
    assert sorted(order.tickets.values_list("number", flat=True)) == [7, 42, 99]
    assert order.lines.get().chosen_numbers == [42, 7, 99]
    assert sold(competition) == 3


def test_taken_number_is_refused_and_nothing_is_written():
    competition = active_competition()
    buy(competition, numbers=[7, 8])
    orders_before = Order.objects.count()
    latecomer = UserFactory()

    with pytest.raises(NumberTaken) as refused:
        buy(competition, latecomer, numbers=[3, 8])

    assert refused.value.numbers == [8]
    assert "8" in str(refused.value)
    assert Order.objects.count() == orders_before
    assert not Order.objects.filter(user=latecomer).exists()
    assert not Ticket.objects.filter(user=latecomer).exists()
    assert sold(competition) == 2


def test_invalid_ticket_number_also_blocks_its_number():
    competition = active_competition()
    buy(competition, numbers=[5], answer=wrong_answer(competition))
    with pytest.raises(NumberTaken):
        buy(competition, numbers=[5])


def test_refunded_ticket_number_can_be_chosen_again():
    competition = active_competition()
    TicketFactory(competition=competition, number=5, status=Ticket.Status.REFUNDED)
    order = buy(competition, numbers=[5])
    assert list(order.tickets.values_list("number", flat=True)) == [5]


@pytest.mark.parametrize("numbers", [[0], [101], [5, 5]])
def test_impossible_numbers_are_refused(numbers):
    competition = active_competition(max_tickets=100)
    with pytest.raises(NumberTaken):
        buy(competition, numbers=numbers)
    assert sold(competition) == 0


def test_wrong_answer_buys_invalid_tickets():
    competition = active_competition()
    user = UserFactory()
    order = buy(competition, user, quantity=2, answer=wrong_answer(competition))

    statuses = set(order.tickets.values_list("status", flat=True))
    assert statuses == {Ticket.Status.INVALID}
    assert order.status == Order.Status.PAID
    assert sold(competition) == 2


def test_answer_from_another_competition_is_refused():
    competition = active_competition()
    other = active_competition()
    with pytest.raises(AnswerRequired):
        buy(competition, quantity=1, answer=correct_answer(other))
    assert sold(competition) == 0


def test_missing_answer_is_refused():
    competition = active_competition()
    with pytest.raises(AnswerRequired):
        order_record_paid(user=UserFactory(), competition=competition, answer=None, quantity=1)


def test_per_customer_limit_across_orders():
    competition = active_competition(max_tickets_per_user=5)
    user = UserFactory()
    buy(competition, user, quantity=3)
    with pytest.raises(LimitReached):
        buy(competition, user, quantity=3)
    buy(competition, user, quantity=2)
    with pytest.raises(LimitReached):
        buy(competition, user, quantity=1)
    assert Ticket.objects.filter(user=user).count() == 5
    # Someone else still may buy.
    buy(competition, quantity=5)
    assert sold(competition) == 10


def test_invalid_tickets_count_towards_the_limit():
    competition = active_competition(max_tickets_per_user=3)
    user = UserFactory()
    buy(competition, user, quantity=3, answer=wrong_answer(competition))
    with pytest.raises(LimitReached):
        buy(competition, user, quantity=1)


def test_cannot_buy_more_than_are_left():
    competition = active_competition(max_tickets=10, max_tickets_per_user=10)
    buy(competition, quantity=8)
    with pytest.raises(SoldOut, match="2"):
        buy(competition, quantity=3)
    buy(competition, quantity=2)
    assert sold(competition) == 10
    with pytest.raises((SoldOut, SalesClosed)):
        buy(competition, quantity=1)


def test_sold_out_competition_closes():
    competition = active_competition(max_tickets=4, max_tickets_per_user=4)
    buy(competition, quantity=4)
    competition.refresh_from_db()
    assert competition.live_status(timezone.now()) == Status.ENDED


@pytest.mark.parametrize("free", [[17, 33], [1, 50]])
def test_lucky_dip_finds_the_last_free_numbers(free):
    competition = active_competition(max_tickets=50, max_tickets_per_user=50)
    taken = [n for n in range(1, 51) if n not in free]
    buy(competition, numbers=taken)
    assert sold(competition) == 48

    order = buy(competition, quantity=2)
    assert sorted(order.tickets.values_list("number", flat=True)) == free
    assert sold(competition) == 50


def test_lucky_dip_never_reuses_numbers_while_filling_up():
    competition = active_competition(max_tickets=60, max_tickets_per_user=60)
    for _ in range(12):
        buy(competition, quantity=5)
    numbers = list(Ticket.objects.filter(competition=competition).values_list("number", flat=True))
    assert sorted(numbers) == list(range(1, 61))


def test_draft_does_not_sell():
    competition = draft_ready_to_activate()
    with pytest.raises(SalesClosed):
        buy(competition, quantity=1)


def test_upcoming_competition_does_not_sell():
    now = timezone.now()
    competition = active_competition(
        now=now, starts_at=now + timedelta(days=1), ends_at=now + timedelta(days=5)
    )
    assert competition.status == Status.UPCOMING
    with pytest.raises(SalesClosed):
        buy(competition, quantity=1, now=now)
    # Once it starts, the same competition sells even before the stored status catches up.
    buy(competition, quantity=1, now=now + timedelta(days=1))
    assert sold(competition) == 1


def test_ended_competition_does_not_sell_even_if_stored_active():
    now = timezone.now()
    competition = active_competition(now=now)
    assert competition.status == Status.ACTIVE
    with pytest.raises(SalesClosed):
        buy(competition, quantity=1, now=competition.ends_at)
    assert sold(competition) == 0


@pytest.mark.parametrize("stored", [Status.DRAWN, Status.CANCELLED])
def test_drawn_or_cancelled_competition_does_not_sell(stored):
    competition = active_competition()
    Competition.objects.filter(pk=competition.pk).update(status=stored)
    with pytest.raises(SalesClosed):
        buy(competition, quantity=1)


@pytest.mark.parametrize("trait", ["minor", "banned"])
def test_ineligible_customer_cannot_buy(trait):
    competition = active_competition()
    user = UserFactory(**{trait: True})
    with pytest.raises(NotEligible):
        buy(competition, user, quantity=1)
    assert not Order.objects.filter(user=user).exists()
    assert sold(competition) == 0


def test_postal_entry_adds_active_tickets_without_an_order():
    competition = active_competition()
    user = UserFactory()
    tickets = postal_entry_add(user=user, competition=competition, quantity=2)

    assert len(tickets) == 2
    stored = Ticket.objects.filter(user=user)
    assert stored.count() == 2
    for ticket in stored:
        assert ticket.status == Ticket.Status.ACTIVE
        assert ticket.source == Ticket.Source.POSTAL
        assert ticket.order is None
        assert 1 <= ticket.number <= competition.max_tickets
    assert not Order.objects.exists()
    assert sold(competition) == 2


def test_postal_entries_share_the_per_customer_limit():
    competition = active_competition(max_tickets_per_user=3)
    user = UserFactory()
    buy(competition, user, quantity=2)
    with pytest.raises(LimitReached):
        postal_entry_add(user=user, competition=competition, quantity=2)
    postal_entry_add(user=user, competition=competition, quantity=1)
    with pytest.raises(LimitReached):
        buy(competition, user, quantity=1)


def test_postal_entries_respect_quota_and_dates():
    competition = active_competition(max_tickets=3, max_tickets_per_user=3)
    with pytest.raises(SoldOut):
        postal_entry_add(user=UserFactory(), competition=competition, quantity=4)
    with pytest.raises(SalesClosed):
        postal_entry_add(
            user=UserFactory(), competition=competition, now=competition.ends_at, quantity=1
        )
    assert sold(competition) == 0


@pytest.mark.parametrize("trait", ["minor", "banned"])
def test_postal_entry_refused_for_ineligible_customer(trait):
    competition = active_competition()
    user = UserFactory(**{trait: True})
    with pytest.raises(NotEligible):
        postal_entry_add(user=user, competition=competition)
    assert not Ticket.objects.filter(user=user).exists()
    assert sold(competition) == 0


def test_sales_check_uses_the_database_not_a_stale_object():
    competition = active_competition(max_tickets=5, max_tickets_per_user=5)
    stale = Competition.objects.get(pk=competition.pk)
    buy(competition, quantity=5)
    assert stale.tickets_sold == 0
    with pytest.raises((SoldOut, SalesClosed)):
        buy(stale, quantity=1)
    assert Ticket.objects.filter(competition=competition).count() == 5


def test_other_competitions_numbers_do_not_interfere():
    first = active_competition(max_tickets=3, max_tickets_per_user=3)
    second = CompetitionFactory()  # a draft, never sold
    TicketFactory(competition=second, number=1)
    order = buy(first, numbers=[1])
    assert list(order.tickets.values_list("number", flat=True)) == [1]
