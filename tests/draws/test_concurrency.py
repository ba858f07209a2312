"""However many callers draw at once, exactly one draw happens (PostgreSQL only)."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from draws.exceptions import AlreadyDrawn
from draws.models import Draw
from draws.services import draw_perform
from tests.factories import UserFactory, active_competition, correct_answer
from tickets.services import order_record_paid
from winners.models import Winner

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_simultaneous_draws_produce_one_result(on_postgres):
    competition = active_competition(prizes=2)
    for _ in range(5):
        order_record_paid(
            user=UserFactory(),
            competition=competition,
            answer=correct_answer(competition),
            quantity=2,
            now=timezone.now(),
        )
    later = competition.ends_at + timedelta(minutes=1)
    barrier = threading.Barrier(4)
    outcomes = []

    def attempt(mode):
        try:
            barrier.wait()
            outcomes.append(draw_perform(competition=competition, mode=mode, now=later))
        except Exception as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    modes = [Draw.Mode.AUTOMATIC, Draw.Mode.ADMIN, Draw.Mode.AUTOMATIC, Draw.Mode.ADMIN]
    threads = [threading.Thread(target=attempt, args=(mode,)) for mode in modes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    draws = [o for o in outcomes if isinstance(o, Draw)]
    refusals = [o for o in outcomes if not isinstance(o, Draw)]
    assert len(draws) == 1
    assert len(refusals) == 3
    assert all(isinstance(o, AlreadyDrawn) for o in refusals), refusals
    assert Draw.objects.count() == 1
    assert Winner.objects.count() == 2


def test_every_kind_of_trigger_at_once_still_draws_once(on_postgres):
    """Beat (close step + automatic), admin button, command and a manual entry race."""
    from draws.services import draw_perform_manual, draws_close_and_find_due
    from tests.factories import UserFactory as Staff

    competition = active_competition(prizes=2)
    for _ in range(6):
        order_record_paid(
            user=UserFactory(),
            competition=competition,
            answer=correct_answer(competition),
            quantity=3,
            now=timezone.now(),
        )
    number = competition.tickets.filter(status="active").first().number
    staff = Staff(is_staff=True)
    later = competition.ends_at + timedelta(minutes=1)
    callers = [
        lambda: draws_close_and_find_due(now=later),
        lambda: draw_perform(competition=competition, mode=Draw.Mode.AUTOMATIC, now=later),
        lambda: draw_perform(competition=competition, mode=Draw.Mode.ADMIN, now=later),
        lambda: draw_perform_manual(
            competition=competition, ticket_number=number, reason="race", by=staff, now=later
        ),
        lambda: draw_perform(competition=competition, mode=Draw.Mode.ADMIN, now=later),
        lambda: draws_close_and_find_due(now=later),
    ]
    barrier = threading.Barrier(len(callers))
    outcomes = []

    def attempt(call):
        try:
            barrier.wait()
            outcomes.append(call())
        except Exception as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(call,)) for call in callers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    draws = [o for o in outcomes if isinstance(o, Draw)]
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(draws) == 1, outcomes
    assert all(isinstance(e, AlreadyDrawn) for e in errors), errors
    assert Draw.objects.count() == 1
    assert Draw.objects.get().status == Draw.Status.COMPLETED
    assert Winner.objects.count() == 2


def test_a_stuck_lock_makes_the_draw_busy_not_hang(on_postgres, monkeypatch):
    """A draw waits LOCK_TIMEOUT for the competition's row lock, then says "busy" (retryable)
    instead of holding a beat worker."""
    from django.db import transaction

    from competitions.models import Competition
    from draws import services
    from draws.exceptions import DrawBusy

    monkeypatch.setattr(services, "LOCK_TIMEOUT", "300ms")
    competition = active_competition()
    later = competition.ends_at + timedelta(minutes=1)
    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        try:
            with transaction.atomic():
                Competition.objects.select_for_update().get(pk=competition.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        with pytest.raises(DrawBusy):
            draw_perform(competition=competition, mode=Draw.Mode.ADMIN, now=later)
    finally:
        release.set()
        holder.join(timeout=30)
    assert not Draw.objects.exists()
    # Once the lock is free the retry succeeds.
    assert draw_perform(competition=competition, mode=Draw.Mode.ADMIN, now=later).pk
