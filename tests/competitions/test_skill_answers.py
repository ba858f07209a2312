"""Skill-answer counters (competitions.SkillAnswerStats): one answer per line of a paid order,
counted by the payment's own last statement (so exactly when it commits), never for a payment
that is refused."""

from decimal import Decimal

import pytest

from competitions.models import SkillAnswerStats
from competitions.services import skill_answers_record
from tests.factories import (
    PrizeFactory,
    UserFactory,
    active_competition,
    correct_answer,
    wrong_answer,
)
from tickets.services import LineRequest, order_fulfil, order_record_paid, order_reserve

pytestmark = pytest.mark.django_db


def stats(competition) -> tuple[int, int]:
    row = SkillAnswerStats.objects.get(competition=competition)
    return row.answered, row.wrong


def test_activation_starts_the_counters_at_zero():
    assert stats(active_competition()) == (0, 0)


def test_right_and_wrong_answers_with_paid_orders_are_counted_with_the_payment(
    django_capture_on_commit_callbacks,
):
    competition = active_competition(max_tickets=100, max_tickets_per_user=50)
    order_record_paid(
        user=UserFactory(),
        competition=competition,
        answer=wrong_answer(competition),
        quantity=5,
    )
    assert stats(competition) == (1, 1)  # one answer, however many tickets

    with django_capture_on_commit_callbacks(execute=True):
        order_record_paid(
            user=UserFactory(),
            competition=competition,
            answer=correct_answer(competition),
            quantity=2,
        )
    assert stats(competition) == (2, 1)


def test_a_basket_of_two_competitions_counts_one_answer_in_each(django_capture_on_commit_callbacks):
    first, second = (active_competition(max_tickets=100) for _ in range(2))
    order = order_reserve(
        user=UserFactory(),
        lines=[
            LineRequest(first.pk, wrong_answer(first).pk, quantity=1),
            LineRequest(second.pk, correct_answer(second).pk, quantity=3),
        ],
    )
    with django_capture_on_commit_callbacks(execute=True):
        order_fulfil(order_id=order.pk)

    assert (stats(first), stats(second)) == ((1, 1), (1, 0))


def test_a_refused_payment_counts_no_answer(django_capture_on_commit_callbacks):
    competition = active_competition(ticket_price=Decimal("5.00"))
    PrizeFactory(competition=competition, kind="instant", position=None, quantity=1)
    order = order_reserve(
        user=UserFactory(),
        lines=[LineRequest(competition.pk, wrong_answer(competition).pk, quantity=1)],
    )
    with django_capture_on_commit_callbacks(execute=True):
        result = order_fulfil(order_id=order.pk, card_funding="credit")

    assert result.refund is not None
    assert stats(competition) == (0, 0)


def test_a_competition_without_its_row_gets_one():
    competition = active_competition()
    SkillAnswerStats.objects.filter(competition=competition).delete()

    skill_answers_record(answers=[(competition.pk, False), (competition.pk, True)])

    assert stats(competition) == (2, 1)
