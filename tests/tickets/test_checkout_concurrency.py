"""200 buyers race for the last 50 tickets through the real checkout path (PostgreSQL only).

Each buyer reserves (lucky dip or chosen numbers) and, if that worked, pays through the signed
webhook. Real threads, real row locks; at most DB_SLOTS of them hold a database connection at
once, because the shared server allows 100 connections in all."""

import random
import threading
from collections import Counter

import pytest
from django.db import connection
from django.db.models import Count
from django.test import Client

from competitions.models import Competition
from tests.factories import UserFactory, active_competition, correct_answer
from tickets.exceptions import Busy, LimitReached, NumberTaken, SalesClosed, SoldOut
from tickets.locking import lock_competitions
from tickets.models import Order, PaymentEvent, Refund, Ticket
from tickets.services import LineRequest, order_reserve

from .conftest import completed_event, post_event

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BUYERS = 200
LAST = 50
MAX_TICKETS = 1_000
DB_SLOTS = 40


def sell_all_but(competition, free: set[int]) -> None:
    owner = UserFactory()
    Ticket.objects.bulk_create(
        Ticket(
            competition=competition,
            number=n,
            user=owner,
            status=Ticket.Status.ACTIVE,
            source=Ticket.Source.POSTAL,
            purchased_at=competition.starts_at,
        )
        for n in range(1, competition.max_tickets + 1)
        if n not in free
    )
    Competition.objects.filter(pk=competition.pk).update(
        tickets_sold=competition.max_tickets - len(free)
    )


def test_200_buyers_race_for_the_last_50(on_postgres, settings):
    settings.FAIRDRAW_LOCK_TIMEOUT_SECONDS = 30  # here we want every buyer served, not told "busy"
    rng = random.Random(7)
    competition = active_competition(max_tickets=MAX_TICKETS, max_tickets_per_user=10)
    free = set(rng.sample(range(1, MAX_TICKETS + 1), LAST))
    sell_all_but(competition, free)
    answer = correct_answer(competition)
    buyers = [UserFactory() for _ in range(BUYERS)]
    wants = []
    for i in range(BUYERS):
        if i % 2:
            wants.append(LineRequest(competition.pk, answer.pk, quantity=1))
        else:
            picks = tuple(rng.sample(sorted(free), rng.choice([1, 2])))
            wants.append(LineRequest(competition.pk, answer.pk, numbers=picks))

    barrier = threading.Barrier(BUYERS)
    slots = threading.BoundedSemaphore(DB_SLOTS)
    outcomes: list = [None] * BUYERS

    def buy(i):
        try:
            barrier.wait()
            with slots:
                try:
                    order = order_reserve(user=buyers[i], lines=[wants[i]])
                    response = post_event(
                        Client(), completed_event(order, event_id=f"evt_race_{i}")
                    )
                    outcomes[i] = (order.pk, response.status_code, response.json()["outcome"])
                finally:
                    connection.close()
        except Exception as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=buy, args=(i,)) for i in range(BUYERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)

    # Exactly 50 sold, none twice, nothing left dangling.
    competition.refresh_from_db()
    assert competition.tickets_sold == MAX_TICKETS
    assert competition.tickets_reserved == 0
    bought = Ticket.objects.filter(competition=competition, order__isnull=False)
    assert bought.count() == LAST
    assert set(bought.values_list("number", flat=True)) == free
    duplicates = (
        Ticket.objects.filter(competition=competition, status__in=Ticket.HOLDING_STATUSES)
        .values("number")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not duplicates.exists()

    # Every loser was told why, and failed before paying.
    winners = [o for o in outcomes if isinstance(o, tuple)]
    losers = [(i, o) for i, o in enumerate(outcomes) if not isinstance(o, tuple)]
    assert all(status == 200 and outcome == "paid" for _, status, outcome in winners), winners
    reasons = Counter(type(o).__name__ for _, o in losers)
    assert all(
        isinstance(o, SoldOut | SalesClosed | NumberTaken | LimitReached | Busy) for _, o in losers
    ), reasons
    assert all(str(o) for _, o in losers)
    assert not Order.objects.filter(user__in=[buyers[i] for i, _ in losers]).exists()

    # Nothing charged is kept without tickets.
    assert PaymentEvent.objects.count() == len(winners)
    for order in Order.objects.filter(pk__in=[w[0] for w in winners]):
        assert order.status == Order.Status.PAID
        wanted = sum(line.quantity for line in order.lines.all())
        assert order.tickets.filter(status=Ticket.Status.ACTIVE).count() == wanted
    assert not Order.objects.filter(status=Order.Status.PENDING).exists()
    assert not Refund.objects.exists()
    assert (
        sum(order.tickets.count() for order in Order.objects.filter(status=Order.Status.PAID))
        == LAST
    )


def test_hot_competition_answers_busy_instead_of_queueing(on_postgres, settings):
    from django.db import transaction

    settings.FAIRDRAW_LOCK_TIMEOUT_SECONDS = 0.2
    competition = active_competition()
    answer = correct_answer(competition)
    holding = threading.Event()
    done = threading.Event()

    def hold_the_lock():
        try:
            with transaction.atomic():
                lock_competitions([competition.pk])
                holding.set()
                done.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    assert holding.wait(10)
    try:
        with pytest.raises(Busy, match="try again"):
            order_reserve(
                user=UserFactory(), lines=[LineRequest(competition.pk, answer.pk, quantity=1)]
            )
    finally:
        done.set()
        holder.join()
    assert not Order.objects.exists()
