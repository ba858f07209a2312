"""A discount code cannot be used more often than it allows, however many customers check out
with it at once (PostgreSQL only: real threads, real transactions)."""

from decimal import Decimal

import pytest

from tests.factories import UserFactory, active_competition
from tickets.exceptions import CodeRefused
from tickets.models import DiscountCode, DiscountRedemption, Order
from tickets.services import order_reserve

from .helpers import line
from .test_spend_concurrency import in_parallel

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_code_with_three_uses_left_serves_exactly_three_of_eight_buyers(on_postgres):
    competition = active_competition(max_tickets=500)
    DiscountCode.objects.create(code="LAUNCH", percent=Decimal("20"), max_uses=3)
    buyers = [UserFactory() for _ in range(8)]

    results = in_parallel(
        *[
            lambda u=u: order_reserve(user=u, lines=[line(competition, quantity=2)], code="LAUNCH")
            for u in buyers
        ]
    )

    orders = [r for r in results if isinstance(r, Order)]
    refusals = [r for r in results if not isinstance(r, Order)]
    assert len(orders) == 3, results
    assert all(isinstance(r, CodeRefused) for r in refusals), refusals
    assert {str(r) for r in refusals} == {"The code LAUNCH has been used up."}
    assert DiscountCode.objects.get(code="LAUNCH").uses == 3
    assert DiscountRedemption.objects.filter(released_at__isnull=True).count() == 3
    # Nothing half-written for the refused buyers: no order, no held numbers.
    assert Order.objects.count() == 3
    competition.refresh_from_db()
    assert competition.tickets_reserved == 6
    assert all(o.total == Decimal("4.00") for o in orders)  # 2 × £2.50, 20% off


def test_one_customer_checking_out_twice_at_once_holds_one_use(on_postgres):
    competition = active_competition(max_tickets=500)
    DiscountCode.objects.create(code="ONEEACH", percent=Decimal("10"), max_uses_per_customer=1)
    customer = UserFactory()

    results = in_parallel(
        *[
            lambda q=q: order_reserve(
                user=customer, lines=[line(competition, quantity=q)], code="ONEEACH"
            )
            for q in (1, 2, 3)
        ]
    )

    # One open checkout per customer: each later one gave the earlier one back, code and all.
    assert all(isinstance(r, Order) for r in results), results
    assert DiscountCode.objects.get(code="ONEEACH").uses == 1
    holding = DiscountRedemption.objects.filter(released_at__isnull=True)
    assert holding.count() == 1
    assert holding.get().order.status == Order.Status.PENDING
