"""An instant win is awarded once however payments race (real row locks: PostgreSQL only)."""

import pytest

from competitions.models import InstantWin
from notifications.models import Notification
from tests.factories import UserFactory, correct_answer, instant_numbers, instant_win_competition
from tickets.exceptions import NumberTaken
from tickets.models import Order
from tickets.services import order_fulfil, order_record_paid
from winners.models import Winner

from .helpers import reserve
from .test_concurrency import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_payment_delivered_many_times_at_once_awards_the_win_once(on_postgres):
    competition = instant_win_competition()
    number = instant_numbers(competition)[0]
    order = reserve(UserFactory(), competition, numbers=[number])

    outcomes = run_together(
        [lambda: order_fulfil(order_id=order.pk, payment_intent_id="pi_same") for _ in range(6)]
    )

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert sorted(o.outcome for o in outcomes).count("paid") == 1
    assert Order.objects.get(pk=order.pk).status == Order.Status.PAID
    winner = Winner.objects.get(competition=competition)
    assert winner.ticket.number == number
    assert InstantWin.objects.filter(competition=competition, won_at__isnull=False).count() == 1
    assert (
        Notification.objects.filter(kind=Notification.Kind.WINNER_ANNOUNCED, channel="email")
        .filter(user=winner.user)
        .count()
        == 1
    )


def test_buyers_racing_for_an_instant_win_number_award_it_once(on_postgres):
    competition = instant_win_competition()
    number = instant_numbers(competition)[0]
    answer = correct_answer(competition)
    buyers = [UserFactory() for _ in range(5)]

    outcomes = run_together(
        [
            lambda user=user: order_record_paid(
                user=user, competition=competition, answer=answer, numbers=[number]
            )
            for user in buyers
        ]
    )

    paid = [o for o in outcomes if isinstance(o, Order)]
    assert len(paid) == 1
    assert all(isinstance(o, NumberTaken) for o in outcomes if not isinstance(o, Order)), outcomes
    winner = Winner.objects.get(competition=competition)
    assert winner.user == paid[0].user and winner.ticket.number == number


def test_different_instant_wins_paid_at_once_each_award_once(on_postgres):
    competition = instant_win_competition(instant=(("£10 cash", "10.00", 6),))
    numbers = instant_numbers(competition)
    orders = [reserve(UserFactory(), competition, numbers=[n]) for n in numbers]

    outcomes = run_together(
        [lambda order=order: order_fulfil(order_id=order.pk) for order in orders]
        + [lambda order=order: order_fulfil(order_id=order.pk) for order in orders]
    )

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    wins = Winner.objects.filter(competition=competition)
    assert sorted(w.ticket.number for w in wins) == numbers
