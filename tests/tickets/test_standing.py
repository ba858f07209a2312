"""What a checkout judges the customer by (tickets.services.reservations.standing): on
PostgreSQL one statement, which must say what the ORM's reads say (spending.spend_row,
rules.holdings, the customer's pending orders' lines)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from competitions.models import AnswerChoice
from responsible_play.models import SpendLimit
from tests.factories import TicketFactory, UserFactory, active_competition, correct_answer
from tickets import spending
from tickets.models import Order, OrderLine
from tickets.services import order_record_paid
from tickets.services.reservations import standing
from tickets.services.rules import holdings

from .helpers import reserve

pytestmark = pytest.mark.django_db


def the_orms_reading(user, competition_ids, now):
    previous = sorted(
        OrderLine.objects.filter(order__user_id=user.pk, order__status=Order.Status.PENDING)
        .order_by()
        .values_list("order_id", "competition_id", "order__total", "order__reserved_until")
    )
    row = spending.spend_row(user, now)
    spend = (row.month_paid, row.month_held, row.personal_limit)
    return previous, spend, holdings(user, competition_ids)


def read(user, competition_ids, now):
    previous, spend, held = standing(user, competition_ids, now)
    return sorted(previous), (spend.month_paid, spend.month_held, spend.personal_limit), held


def test_a_new_customer_has_nothing(monkeypatch):
    user = UserFactory()
    competition = active_competition()
    now = timezone.now()

    assert read(user, [competition.pk], now) == the_orms_reading(user, [competition.pk], now)
    assert read(user, [competition.pk], now) == ([], (0, 0, None), {})


def test_a_customer_with_orders_refunds_limits_and_tickets():
    user, someone_else = UserFactory(), UserFactory()
    first, second, third = (active_competition(max_tickets=100) for _ in range(3))
    now = timezone.now()
    order_record_paid(
        user=user,
        competition=first,
        answer=correct_answer(first),
        quantity=3,
        now=now,
    )
    refunded = order_record_paid(
        user=user,
        competition=second,
        answer=correct_answer(second),
        quantity=2,
        now=now,
    )
    Order.objects.filter(pk=refunded.pk).update(
        status=Order.Status.PARTIALLY_REFUNDED, amount_refunded=Decimal("1.00")
    )
    # Last month's order counts for nothing this month.
    old = order_record_paid(
        user=user,
        competition=first,
        answer=correct_answer(first),
        quantity=1,
        now=now,
    )
    Order.objects.filter(pk=old.pk).update(paid_at=now - timedelta(days=40))
    reserve(user, third, quantity=4, now=now)  # given back by the next checkout
    lapsed = reserve(user, second, quantity=1, now=now)
    Order.objects.filter(pk=lapsed.pk).update(reserved_until=now - timedelta(minutes=1))
    TicketFactory(competition=third, user=user, number=99)  # a postal entry
    reserve(someone_else, first, quantity=5, now=now)
    SpendLimit.objects.create(
        user=user,
        monthly_limit=Decimal("300"),
        requested_at=now - timedelta(days=3),
        effective_at=now - timedelta(days=3),
    )
    SpendLimit.objects.create(
        user=user,
        monthly_limit=Decimal("200"),
        requested_at=now - timedelta(days=2),
        effective_at=now - timedelta(days=2),
    )
    SpendLimit.objects.create(  # not in force yet (cooling off)
        user=user,
        monthly_limit=Decimal("900"),
        requested_at=now - timedelta(hours=1),
        effective_at=now + timedelta(hours=23),
    )
    ids = [first.pk, second.pk, third.pk]

    previous, spend, held = read(user, ids, now)

    assert (previous, spend, held) == the_orms_reading(user, ids, now)
    assert [competition for _, competition, _, _ in previous] == [second.pk]
    assert spend[2] == Decimal("200")
    assert held == {first.pk: 4, second.pk: 3, third.pk: 1}
    if connection.vendor == "postgresql":
        assert spend[0] > 0 and spend[1] == 0  # the lapsed checkout holds nothing


def test_an_orders_lines_load_as_the_orm_loads_them():
    """rules.order_lines_loaded (written out on PostgreSQL) against select_related."""
    from django.forms.models import model_to_dict

    from tickets.services.rules import order_lines_loaded

    user = UserFactory()
    first, second = active_competition(max_tickets=100), active_competition(max_tickets=100)
    order = order_reserve_two(user, first, second)

    loaded = order_lines_loaded(order.pk)
    expected = list(
        OrderLine.objects.filter(order_id=order.pk)
        .select_related("order", "competition", "answer")
        .order_by("pk")
    )

    assert [line.pk for line in loaded] == [line.pk for line in expected]
    for got, want in zip(loaded, expected, strict=True):
        assert model_to_dict(got) == model_to_dict(want)
        for name in ("order", "competition", "answer"):
            assert model_to_dict(getattr(got, name)) == model_to_dict(getattr(want, name))
    assert loaded[1].chosen_numbers == [42]


def order_reserve_two(user, first, second):
    from tickets.services import LineRequest, order_reserve

    return order_reserve(
        user=user,
        lines=[
            LineRequest(first.pk, correct_answer(first).pk, quantity=2),
            LineRequest(second.pk, correct_answer(second).pk, numbers=(42,)),
        ],
    )


def test_answers_load_as_the_orm_loads_them():
    from django.forms.models import model_to_dict

    from tickets.services.rules import answers_loaded

    first, second = active_competition(), active_competition()
    ids = [correct_answer(first).pk, correct_answer(second).pk, 10**9]

    loaded = answers_loaded(ids)
    expected = AnswerChoice.objects.select_related("competition").in_bulk(ids)

    assert sorted(loaded) == sorted(expected) == sorted(ids[:2])
    for pk, answer in loaded.items():
        assert model_to_dict(answer) == model_to_dict(expected[pk])
        assert model_to_dict(answer.competition) == model_to_dict(expected[pk].competition)
