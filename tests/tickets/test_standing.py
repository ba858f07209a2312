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


def test_the_customers_lock_says_whether_their_e_mail_is_confirmed_as_the_orm_does():
    """rules.lock_customer_reading_settings(email=True) (written out on PostgreSQL) against
    accounts.selectors.email_verified and its annotation."""
    from allauth.account.models import EmailAddress

    from accounts.models import User
    from accounts.selectors import email_verified, email_verified_exists
    from tickets.services.rules import lock_customer_reading_settings

    confirmed = UserFactory()
    unconfirmed = UserFactory(email_verified=False)
    other_case = UserFactory(email="Mixed.Case@example.com", email_verified=False)
    EmailAddress.objects.filter(user=other_case).update(
        email="mixed.case@EXAMPLE.com", verified=True
    )
    old_address = UserFactory(email_verified=False)  # confirmed an address they no longer use
    EmailAddress.objects.create(user=old_address, email="old@example.com", verified=True)
    no_address = UserFactory()
    EmailAddress.objects.filter(user=no_address).delete()
    customers = [confirmed, unconfirmed, other_case, old_address, no_address]

    locked = [lock_customer_reading_settings(c.pk, email=True)[0] for c in customers]
    annotated = User.objects.annotate(email_confirmed=email_verified_exists()).in_bulk(
        [c.pk for c in customers]
    )

    expected = [True, False, True, False, False]
    assert [email_verified(c) for c in customers] == expected
    assert [annotated[c.pk].email_confirmed for c in customers] == expected
    assert [user.email_confirmed for user in locked] == expected
    assert [user.pk for user in locked] == [c.pk for c in customers]


def test_answers_load_with_their_competitions_bundles_as_the_orm_loads_them():
    """rules.answers_with_bundles_loaded (one statement on PostgreSQL) against answers_loaded
    and pricing.bundles_for."""
    from django.forms.models import model_to_dict

    from competitions.models import Bundle
    from tickets.pricing import bundles_for
    from tickets.services.rules import answers_loaded, answers_with_bundles_loaded

    with_bundles, without = active_competition(), active_competition()
    Bundle.objects.create(competition=with_bundles, quantity=10, price=Decimal("7.50"))
    Bundle.objects.create(competition=with_bundles, quantity=3, price=Decimal("2.50"))
    ids = [correct_answer(with_bundles).pk, correct_answer(without).pk, 10**9]
    ids.append(with_bundles.answers.exclude(pk=ids[0]).first().pk)  # a second answer of it

    answers, bundles = answers_with_bundles_loaded(ids)
    expected = answers_loaded(ids)
    expected_bundles = bundles_for({with_bundles.pk, without.pk})

    assert sorted(answers) == sorted(expected)
    for pk, answer in answers.items():
        assert model_to_dict(answer) == model_to_dict(expected[pk])
        assert model_to_dict(answer.competition) == model_to_dict(expected[pk].competition)
    assert sorted(bundles) == sorted(expected_bundles) == [with_bundles.pk]

    def rows(found):
        return [(b.pk, model_to_dict(b)) for b in sorted(found, key=lambda b: b.pk)]

    assert rows(bundles[with_bundles.pk]) == rows(expected_bundles[with_bundles.pk])
    assert sorted((b.quantity, b.price) for b in bundles[with_bundles.pk]) == [
        (3, Decimal("2.50")),
        (10, Decimal("7.50")),
    ]


def test_an_order_and_its_lines_are_written_as_the_orm_writes_them():
    """reservations.order_insert (one statement on PostgreSQL) against Order.save() and
    OrderLine.objects.bulk_create: the same rows, and objects as the ORM leaves them."""
    from django.conf import settings

    from tickets.services import reservations

    user = UserFactory()
    first, second = active_competition(max_tickets=100), active_competition(max_tickets=100)
    now = timezone.now()

    def unsaved():
        order = Order(
            user=user,
            status=Order.Status.PENDING,
            currency=settings.FAIRDRAW_CURRENCY,
            total=Decimal("7.49"),
            reserved_until=now + timedelta(minutes=15),
        )
        lines = [
            OrderLine(
                competition=first,
                quantity=5,
                answer=correct_answer(first),
                unit_price=Decimal("0.99"),
                line_total=Decimal("4.00"),
                bundle_discount=Decimal("0.95"),
                code_discount=Decimal("0.00"),
                bundles=[{"quantity": 5, "price": "4.00", "times": 1}],
            ),
            OrderLine(
                competition=second,
                quantity=2,
                chosen_numbers=[42, 7],
                answer=correct_answer(second),
                unit_price=Decimal("1.99"),
                line_total=Decimal("3.49"),
                bundle_discount=Decimal("0.00"),
                code_discount=Decimal("0.49"),
            ),
        ]
        return order, lines

    written_out, written_out_lines = unsaved()
    reservations.order_insert(written_out, written_out_lines)
    by_orm, by_orm_lines = unsaved()
    by_orm.save(force_insert=True)
    for line in by_orm_lines:
        line.order = by_orm
    OrderLine.objects.bulk_create(by_orm_lines)

    def row(obj, *leaving_out):
        return {
            f.attname: getattr(obj, f.attname)
            for f in obj._meta.concrete_fields
            if f.attname not in leaving_out
        }

    for order, lines in ((written_out, written_out_lines), (by_orm, by_orm_lines)):
        stored = Order.objects.get(pk=order.pk)
        assert not order._state.adding and order._state.db == stored._state.db
        assert row(order) == row(stored)
        assert order.created_at and order.updated_at and order.reference.startswith("FD-")
        stored_lines = list(stored.lines.order_by("pk"))
        assert [line.pk for line in lines] == [line.pk for line in stored_lines]
        for line, stored_line in zip(lines, stored_lines, strict=True):
            assert not line._state.adding and line.order is order
            assert row(line) == row(stored_line)
    moments = ("id", "reference", "created_at", "updated_at")
    assert row(written_out, *moments) == row(by_orm, *moments)
    assert [row(x, "id", "order_id") for x in written_out_lines] == [
        row(x, "id", "order_id") for x in by_orm_lines
    ]
    assert written_out.lines.get(competition=second).chosen_numbers == [42, 7]


def test_the_tickets_written_come_back_as_the_orm_reads_them():
    """rules.tickets_insert builds the tickets it wrote (on PostgreSQL from the statement's
    RETURNING rows) as the ORM would read them back, related objects cached."""
    from tickets.models import Ticket
    from tickets.services.rules import LineRequest, prepare_lines, tickets_insert

    user = UserFactory()
    first, second = active_competition(max_tickets=100), active_competition(max_tickets=100)
    order = reserve(user, first, numbers=[1])
    lines = prepare_lines(
        [
            LineRequest(first.pk, correct_answer(first).pk, quantity=2, numbers=(50,)),
            LineRequest(second.pk, correct_answer(second).pk, quantity=1),
        ]
    )
    now = timezone.now()

    tickets = tickets_insert(
        lines, user=user, order=order, status=Ticket.Status.RESERVED, source="paid", now=now
    )

    assert len(tickets) == 4 and 50 in [t.number for t in tickets if t.competition_id == first.pk]
    for ticket in tickets:
        stored = Ticket.objects.get(pk=ticket.pk)
        assert {f.attname: getattr(ticket, f.attname) for f in Ticket._meta.concrete_fields} == {
            f.attname: getattr(stored, f.attname) for f in Ticket._meta.concrete_fields
        }
        assert not ticket._state.adding and ticket._state.db == stored._state.db
        assert ticket.user is user and ticket.order is order
        line = next(x for x in lines if x.competition.pk == ticket.competition_id)
        assert ticket.competition is line.competition


def test_an_order_saved_with_its_tickets_is_as_the_orm_would_save_it():
    """reservations.order_insert_ahead: the order and its lines sent in the query string of the
    tickets' first round (PostgreSQL; saved at once on SQLite), the tickets pointing at it."""
    from django.conf import settings

    from tickets.models import Ticket
    from tickets.services.reservations import order_insert_ahead
    from tickets.services.rules import LineRequest, prepare_lines, tickets_insert

    user = UserFactory()
    competition = active_competition(max_tickets=100)
    (line,) = prepare_lines([LineRequest(competition.pk, correct_answer(competition).pk, 3)])
    now = timezone.now()
    order = Order(user=user, currency=settings.FAIRDRAW_CURRENCY, total=Decimal("2.97"))
    lines = [
        OrderLine(
            competition=competition,
            quantity=3,
            answer=line.answer,
            unit_price=Decimal("0.99"),
            line_total=Decimal("2.97"),
        )
    ]

    tickets = tickets_insert(
        [line],
        user=user,
        order=order,
        status=Ticket.Status.RESERVED,
        source="paid",
        now=now,
        ahead=order_insert_ahead(order, lines),
    )

    stored = Order.objects.get(pk=order.pk)
    assert not order._state.adding and stored.reference == order.reference
    assert [x.pk for x in stored.lines.all()] == [lines[0].pk] and lines[0].order is order
    assert sorted(t.pk for t in stored.tickets.all()) == sorted(t.pk for t in tickets)
    assert len(tickets) == 3 and all(t.order_id == order.pk for t in tickets)
