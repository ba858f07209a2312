"""`manage.py draw`, `manage.py run_due_draws` and the Celery tasks: thin callers of the
services, so one scheduled draw per due competition however often they run."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from competitions.lifecycle import Status
from competitions.models import Competition
from draws import tasks
from draws.exceptions import DrawBusy
from draws.models import Draw
from tests.factories import active_competition, beacon_rebind
from tickets.models import Ticket

from .conftest import buy

pytestmark = pytest.mark.django_db


def close(competition, *, draw_in=timedelta(minutes=-1), **fields):
    now = timezone.now()
    Competition.objects.filter(pk=competition.pk).update(
        starts_at=now - timedelta(days=2),
        ends_at=now - timedelta(minutes=10),
        draw_at=now + draw_in,
        **fields,
    )
    return beacon_rebind(competition)


def out_of(command, *args):
    out = io.StringIO()
    call_command(command, *args, stdout=out, stderr=out)
    return out.getvalue()


def test_draw_command_draws_before_the_advertised_time(closed_competition):
    close(closed_competition, draw_in=timedelta(hours=3))
    output = out_of("draw", closed_competition.slug)
    draw = Draw.objects.get()
    assert draw.mode == Draw.Mode.ADMIN and draw.beacon_round == closed_competition.beacon_round
    assert f"beacon round {draw.beacon_round} (demo beacon)" in output
    assert draw.seed in output and "prize 1: ticket #" in output
    with pytest.raises(CommandError, match="already been drawn"):
        call_command("draw", str(closed_competition.pk))


def test_draw_command_manual_ticket(closed_competition):
    close(closed_competition)
    number = Ticket.objects.filter(competition=closed_competition, status="active")[2].number
    with pytest.raises(CommandError, match="reason"):
        call_command("draw", closed_competition.slug, "--manual-ticket", str(number))
    out_of("draw", closed_competition.slug, "--manual-ticket", str(number), "--reason", "Live")
    draw = Draw.objects.get()
    assert draw.mode == Draw.Mode.MANUAL and draw.winning_ticket.number == number


def test_draw_command_refuses_an_open_competition(closed_competition):
    with pytest.raises(CommandError, match="not ended"):
        call_command("draw", closed_competition.slug)


def test_run_due_draws_command_draws_only_due_competitions():
    due = close(active_competition())
    buy(active_competition(), quantity=1)  # still on sale
    later = close(active_competition(), draw_in=timedelta(hours=1))
    off = close(active_competition(), auto_draw_enabled=False)

    output = out_of("run_due_draws")

    assert f"{due.title}: Closed without entries" in output
    assert Competition.objects.get(pk=due.pk).status == Status.DRAWN
    for competition in (later, off):
        assert Competition.objects.get(pk=competition.pk).status == Status.ENDED
        assert competition.draws.get().status == Draw.Status.PENDING
    assert out_of("run_due_draws") == "No competition is due to be drawn.\n"


def test_beat_task_queues_one_draw_task_per_due_competition(
    closed_competition, monkeypatch, django_capture_on_commit_callbacks
):
    close(closed_competition)
    queued = []
    monkeypatch.setattr(tasks.draw_competition, "delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.run_due_draws() == [closed_competition.pk]
    assert queued == [closed_competition.pk]  # after commit: the worker sees the freeze


def test_draw_task_draws_and_treats_drawn_as_done(closed_competition):
    close(closed_competition)
    assert tasks.draw_competition.delay(closed_competition.pk).get().startswith("draw ")
    assert Draw.objects.get().mode == Draw.Mode.AUTOMATIC
    assert tasks.draw_competition.delay(closed_competition.pk).get().startswith("skipped")
    assert tasks.draw_competition.delay(999_999).get().startswith("skipped")
    assert Draw.objects.count() == 1


def test_draw_task_retries_when_the_competition_is_locked(closed_competition, monkeypatch):
    close(closed_competition)
    attempts = []

    def busy(**kwargs):
        attempts.append(kwargs)
        raise DrawBusy("locked")

    monkeypatch.setattr(tasks, "draw_due_competition", busy)
    retried = []
    monkeypatch.setattr(
        tasks.draw_competition, "retry", lambda exc: retried.append(exc) or RuntimeError("retry")
    )
    with pytest.raises(RuntimeError, match="retry"):
        tasks.draw_competition.run(closed_competition.pk)
    assert len(attempts) == 1 and isinstance(retried[0], DrawBusy)


def test_draw_command_says_it_waits_for_the_beacon_round():
    """Entries closed but the announced round is not out: nothing drawn, and the command says
    which round it waits for (beat will draw once it is)."""
    competition = active_competition(max_tickets=4, max_tickets_per_user=4)
    from tests.draws.conftest import buy

    buy(competition, quantity=4)  # sold out: closed, but its round follows the advertised end
    output = out_of("draw", competition.slug)
    assert "not drawn yet" in output and f"round {competition.beacon_round}" in output
    assert not Draw.objects.filter(status=Draw.Status.COMPLETED).exists()
