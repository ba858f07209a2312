"""A real worker with beat on Redis keeps competition statuses in step with the clock."""

from datetime import timedelta

from django.utils import timezone

from competitions.lifecycle import Status
from competitions.models import Competition
from competitions.tasks import sync_competition_statuses
from tests.celery_worker import wait_until
from tests.factories import active_competition


def _close_in_the_past(competition):
    Competition.objects.filter(pk=competition.pk).update(
        ends_at=timezone.now() - timedelta(seconds=1)
    )


def test_beat_closes_an_ended_competition(celery_beat_worker):
    competition = active_competition()
    _close_in_the_past(competition)
    assert Competition.objects.get(pk=competition.pk).status == Status.ACTIVE

    wait_until(
        lambda: Competition.objects.get(pk=competition.pk).status == Status.ENDED,
        worker=celery_beat_worker,
    )
    assert "Sending due task competitions-sync-statuses" in celery_beat_worker.log()


def test_a_queued_task_runs_on_the_worker(celery_worker):
    competition = active_competition()
    _close_in_the_past(competition)
    sync_competition_statuses.delay()
    wait_until(
        lambda: Competition.objects.get(pk=competition.pk).status == Status.ENDED,
        worker=celery_worker,
    )
    assert "Sending due task" not in celery_worker.log()  # no beat here: the queued task did it
