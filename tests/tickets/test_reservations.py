"""Checkout holds numbers for a while; the hold counts against the quota and the limits."""

from dataclasses import replace
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from competitions.models import Competition
from tests.factories import UserFactory, active_competition, wrong_answer
from tickets import allocation
from tickets.exceptions import (
    AnswerRequired,
    CartEmpty,
    LimitReached,
    NotEligible,
    NumberTaken,
    SoldOut,
)
from tickets.models import Order, Ticket
from tickets.services import (
    order_fulfil,
    order_release,
    order_reserve,
    postal_entry_add,
    reservations_release_expired,
)
from tickets.tasks import release_expired_reservations

from .helpers import line, reserve

pytestmark = pytest.mark.django_db


def counters(competition):
    fresh = Competition.objects.get(pk=competition.pk)
    return fresh.tickets_sold, fresh.tickets_reserved


def test_reserve_holds_numbers_in_a_pending_order(settings):
    settings.FAIRDRAW_RESERVATION_MINUTES = 15
    now = timezone.now()
    competition = active_competition(max_tickets=100)
    user = UserFactory()
    order = reserve(user, competition, quantity=3, numbers=[42], now=now)

    assert order.status == Order.Status.PENDING
    assert order.reserved_until == now + timedelta(minutes=15)
    assert order.total == competition.ticket_price * 4
    held = order.tickets.all()
    assert {t.status for t in held} == {Ticket.Status.RESERVED}
    assert 42 in {t.number for t in held}
    assert len({t.number for t in held}) == 4
    assert counters(competition) == (0, 4)
    assert order.lines.get().quantity == 4
    # Not a ticket the customer has yet.
    assert not Ticket.objects.filter(user=user).issued().exists()


def test_reserved_numbers_count_against_quota_but_do_not_close_sales():
    competition = active_competition(max_tickets=5, max_tickets_per_user=5)
    reserve(UserFactory(), competition, quantity=5)
    with pytest.raises(SoldOut, match="baskets expire"):
        reserve(UserFactory(), competition, quantity=1)
    competition.refresh_from_db()
    assert competition.tickets_left == 0
    assert competition.live_status().value == "active"  # nobody has paid: still on sale


def test_reserved_number_cannot_be_chosen_by_someone_else():
    competition = active_competition()
    reserve(UserFactory(), competition, numbers=[7])
    with pytest.raises(NumberTaken) as refused:
        reserve(UserFactory(), competition, numbers=[6, 7])
    assert refused.value.numbers == [7]


def test_per_customer_limit_counts_reservations_paid_and_postal():
    competition = active_competition(max_tickets_per_user=5)
    user = UserFactory()
    postal_entry_add(user=user, competition=competition, quantity=1)
    order_fulfil(order_id=reserve(user, competition, quantity=2).pk)
    order = reserve(user, competition, quantity=1)
    order_fulfil(order_id=order.pk)
    with pytest.raises(LimitReached, match="you have 4"):
        reserve(user, competition, quantity=2)


def test_expired_reservations_are_released_by_the_task():
    past = timezone.now() - timedelta(hours=1)
    competition = active_competition(max_tickets=10, max_tickets_per_user=10)
    other = active_competition()
    fresh = reserve(UserFactory(), other, quantity=2)
    order = reserve(UserFactory(), competition, quantity=4, now=past)

    assert release_expired_reservations.delay().get() == 1

    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED
    assert not order.tickets.exists()
    assert Order.objects.get(pk=fresh.pk).status == Order.Status.PENDING
    assert counters(competition) == (0, 0)
    assert counters(other) == (0, 2)


def test_quota_check_releases_expired_reservations_first():
    competition = active_competition(max_tickets=3, max_tickets_per_user=3)
    stale = reserve(
        UserFactory(), competition, numbers=[1, 2, 3], now=timezone.now() - timedelta(hours=1)
    )
    order = reserve(UserFactory(), competition, numbers=[2])
    assert Order.objects.get(pk=stale.pk).status == Order.Status.EXPIRED
    assert list(order.tickets.values_list("number", flat=True)) == [2]
    assert counters(competition) == (0, 1)


def test_a_lapsed_reservation_of_the_customers_own_is_released_to_make_room_under_the_limit():
    competition = active_competition(max_tickets=100, max_tickets_per_user=3)
    customer = UserFactory()
    stale = reserve(customer, competition, quantity=3, now=timezone.now() - timedelta(hours=1))

    order = reserve(customer, competition, quantity=2)

    assert Order.objects.get(pk=stale.pk).status == Order.Status.EXPIRED
    assert order.tickets.count() == 2
    assert counters(competition) == (0, 2)


def test_a_chosen_number_held_by_a_lapsed_reservation_is_released_for_the_new_buyer():
    competition = active_competition(max_tickets=1000)
    stale = reserve(
        UserFactory(), competition, numbers=[7], now=timezone.now() - timedelta(hours=1)
    )

    order = reserve(UserFactory(), competition, numbers=[7])

    assert Order.objects.get(pk=stale.pk).status == Order.Status.EXPIRED
    assert list(order.tickets.values_list("number", flat=True)) == [7]


def test_lapsed_reservations_not_in_the_way_are_left_to_the_periodic_task():
    competition = active_competition(max_tickets=100, max_tickets_per_user=10)
    stale = reserve(UserFactory(), competition, quantity=2, now=timezone.now() - timedelta(hours=1))

    reserve(UserFactory(), competition, quantity=1)

    assert Order.objects.get(pk=stale.pk).status == Order.Status.PENDING
    assert counters(competition) == (0, 3)
    assert reservations_release_expired() == 1
    assert counters(competition) == (0, 1)


def test_a_sold_out_checkout_with_nothing_lapsed_says_so_without_retrying():
    competition = active_competition(max_tickets=2, max_tickets_per_user=2)
    reserve(UserFactory(), competition, quantity=2)
    with pytest.raises(SoldOut, match="baskets expire"):
        reserve(UserFactory(), competition, quantity=1)
    assert Order.objects.count() == 1
    assert counters(competition) == (0, 2)


def test_release_is_refused_for_a_live_or_paid_order():
    competition = active_competition()
    order = reserve(UserFactory(), competition, quantity=1)
    assert not order_release(order_id=order.pk)  # still within its time
    order_fulfil(order_id=order.pk)
    assert not order_release(order_id=order.pk, only_if_lapsed=False)
    assert counters(competition) == (1, 0)


def test_one_order_can_span_competitions_all_or_nothing():
    first = active_competition(max_tickets=10, max_tickets_per_user=10)
    second = active_competition(max_tickets=2, max_tickets_per_user=2)
    user = UserFactory()
    with pytest.raises(SoldOut):
        order_reserve(user=user, lines=[line(first, quantity=2), line(second, quantity=3)])
    assert not Order.objects.exists()
    assert counters(first) == (0, 0)

    order = order_reserve(user=user, lines=[line(first, quantity=2), line(second, numbers=[2])])
    assert order.lines.count() == 2
    assert order.total == first.ticket_price * 2 + second.ticket_price
    order_fulfil(order_id=order.pk)
    assert counters(first) == (2, 0)
    assert counters(second) == (1, 0)


def test_wrong_answer_reserves_and_pays_as_invalid():
    competition = active_competition()
    order = reserve(UserFactory(), competition, quantity=2, answer=wrong_answer(competition))
    order_fulfil(order_id=order.pk)
    assert set(order.tickets.values_list("status", flat=True)) == {Ticket.Status.INVALID}


def test_refusals():
    competition = active_competition()
    with pytest.raises(CartEmpty):
        order_reserve(user=UserFactory(), lines=[])
    with pytest.raises(NotEligible, match="date of birth"):
        reserve(UserFactory(date_of_birth=None), competition, quantity=1)
    with pytest.raises(AnswerRequired):
        order_reserve(
            user=UserFactory(), lines=[replace(line(competition, quantity=1), answer_id=None)]
        )
    assert not Order.objects.exists()


def test_lucky_dip_cost_does_not_grow_with_a_million_tickets():
    def queries_to_reserve_100(max_tickets):
        competition = active_competition(max_tickets=max_tickets, max_tickets_per_user=1000)
        with CaptureQueriesContext(connection) as queries:
            order = reserve(UserFactory(), competition, quantity=100)
        return len(queries), set(order.tickets.values_list("number", flat=True))

    small, _ = queries_to_reserve_100(10_000)
    large, numbers = queries_to_reserve_100(1_000_000)
    assert large == small  # the same statements whatever the size of the competition
    assert large <= 25  # eligibility, spend limit, locks, sampling, writes: a fixed handful
    assert len(numbers) == 100
    assert max(numbers) > 10_000  # spread over the whole range


def test_gap_walk_finds_every_last_free_number():
    competition = active_competition(max_tickets=2000, max_tickets_per_user=2000)
    free = {5, 999, 1000, 1998, 2000}
    user = UserFactory()
    Ticket.objects.bulk_create(
        Ticket(
            competition=competition,
            number=n,
            user=user,
            status=Ticket.Status.ACTIVE,
            source=Ticket.Source.POSTAL,
            purchased_at=timezone.now(),
        )
        for n in range(1, 2001)
        if n not in free
    )
    for _ in range(5):
        picked = allocation.lucky_dip(
            competition_id=competition.pk, max_number=2000, free_count=5, quantity=5
        )
        assert set(picked) == free
    picked = allocation.lucky_dip(
        competition_id=competition.pk, max_number=2000, free_count=5, quantity=2, exclude={5}
    )
    assert set(picked) <= free - {5}
    assert len(picked) == 2


def test_lucky_dip_sampling_is_bounded_even_when_unlucky():
    class AlwaysOne:
        def randint(self, a, b):
            return 1

        def shuffle(self, items):
            pass

        def sample(self, items, k):
            return list(items)[:k]

    competition = active_competition(max_tickets=100, max_tickets_per_user=100)
    Ticket.objects.create(
        competition=competition,
        number=1,
        user=UserFactory(),
        status=Ticket.Status.ACTIVE,
        source=Ticket.Source.POSTAL,
        purchased_at=timezone.now(),
    )
    picked = allocation.lucky_dip(
        competition_id=competition.pk, max_number=100, free_count=99, quantity=3, rng=AlwaysOne()
    )
    assert len(set(picked)) == 3 and 1 not in picked


def test_release_many_expired():
    past = timezone.now() - timedelta(hours=1)
    competition = active_competition(max_tickets=50, max_tickets_per_user=50)
    for _ in range(4):
        reserve(UserFactory(), competition, quantity=2, now=past)
    assert reservations_release_expired(competition_ids=[competition.pk]) == 4
    assert counters(competition) == (0, 0)
