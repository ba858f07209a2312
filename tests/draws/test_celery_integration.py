"""A real Celery worker with beat on Redis draws a due competition on its own."""

from datetime import timedelta

from django.utils import timezone

from competitions.lifecycle import Status
from competitions.models import Competition
from draws.models import Draw
from draws.verification import all_ok, verify_draw
from tests.celery_worker import wait_until
from tests.factories import UserFactory, active_competition, beacon_rebind, correct_answer
from tickets.services import order_record_paid


def test_beat_draws_a_due_competition_automatically(celery_beat_worker):
    competition = active_competition(prizes=2)
    for _ in range(3):
        order_record_paid(
            user=UserFactory(),
            competition=competition,
            answer=correct_answer(competition),
            quantity=2,
        )
    now = timezone.now()
    Competition.objects.filter(pk=competition.pk).update(
        ends_at=now - timedelta(seconds=2), draw_at=now - timedelta(seconds=1)
    )
    beacon_rebind(competition)
    waiting = active_competition()  # on sale: never drawn

    wait_until(
        lambda: Competition.objects.get(pk=competition.pk).status == Status.DRAWN,
        worker=celery_beat_worker,
        timeout=60,
    )
    draw = Draw.objects.get(competition=competition)
    assert draw.mode == Draw.Mode.AUTOMATIC
    assert draw.status == Draw.Status.COMPLETED
    assert draw.winners.count() == 2
    assert all_ok(verify_draw(draw))
    log = celery_beat_worker.log()
    assert "Sending due task draws-run-due" in log
    assert "draws.tasks.draw_competition" in log
    assert Competition.objects.get(pk=waiting.pk).status == Status.ACTIVE
    assert not Draw.objects.filter(competition=waiting).exists()
