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
