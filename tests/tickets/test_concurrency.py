"""Many buyers at once never oversell (real row locks: PostgreSQL only)."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from competitions.models import Competition
from tests.factories import UserFactory, active_competition, correct_answer
from tickets.exceptions import NumberTaken, SalesClosed, SoldOut
from tickets.models import Ticket
from tickets.services import order_record_paid

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(jobs):
    """Start every job at the same moment; return what each returned or raised."""
    barrier = threading.Barrier(len(jobs))
    outcomes = [None] * len(jobs)

    def run(i, job):
        try:
            barrier.wait()
            outcomes[i] = job()
        except Exception as exc:
            outcomes[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_concurrent_lucky_dips_never_oversell(on_postgres):
    competition = active_competition(max_tickets=10, max_tickets_per_user=10)
    answer = correct_answer(competition)
    buyers = [UserFactory() for _ in range(8)]
    now = timezone.now()

    outcomes = run_together(
        [
            lambda user=user: order_record_paid(
                user=user, competition=competition, answer=answer, quantity=3, now=now
            )
            for user in buyers
        ]
    )

    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert all(isinstance(o, SoldOut | SalesClosed) for o in refused), refused
    assert len(refused) == 5
    numbers = list(Ticket.objects.filter(competition=competition).values_list("number", flat=True))
    assert len(numbers) == len(set(numbers)) == 9
    assert Competition.objects.get(pk=competition.pk).tickets_sold == 9


def test_same_chosen_number_goes_to_one_buyer(on_postgres):
    competition = active_competition()
    answer = correct_answer(competition)
    buyers = [UserFactory() for _ in range(4)]
    now = timezone.now()

    outcomes = run_together(
        [
            lambda user=user: order_record_paid(
                user=user, competition=competition, answer=answer, numbers=[13], now=now
            )
            for user in buyers
        ]
    )

    assert sum(isinstance(o, NumberTaken) for o in outcomes) == 3
    assert Ticket.objects.filter(competition=competition, number=13).count() == 1
    assert Competition.objects.get(pk=competition.pk).tickets_sold == 1
