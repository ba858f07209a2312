"""Activating competitions and keeping their stored status in step with the clock."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from competitions.exceptions import ActivationRefused
from competitions.lifecycle import Status
from competitions.models import Competition
from competitions.services import competition_activate, competition_sync_statuses
from competitions.tasks import sync_competition_statuses
from draws.models import DrawLogEntry
from tests.factories import (
    FAKE_COMMITMENT,
    AnswerChoiceFactory,
    CompetitionFactory,
    PrizeFactory,
    UserFactory,
    draft_ready_to_activate,
)

pytestmark = pytest.mark.django_db


def test_activation_commits_to_a_secret_seed():
    now = timezone.now()
    competition = competition_activate(competition=draft_ready_to_activate(), now=now)

    competition.refresh_from_db()
    assert re.fullmatch(r"[0-9a-f]{64}", competition.draw_seed)
    assert re.fullmatch(r"[0-9a-f]{64}", competition.seed_commitment)
    expected = hashlib.sha256(bytes.fromhex(competition.draw_seed)).hexdigest()
    assert competition.seed_commitment == expected
    assert competition.activated_at == now


def test_each_activation_gets_its_own_seed():
    first = competition_activate(competition=draft_ready_to_activate())
    second = competition_activate(competition=draft_ready_to_activate())
    assert first.draw_seed != second.draw_seed
    assert first.seed_commitment != second.seed_commitment


def test_activation_puts_a_started_competition_on_sale():
    now = timezone.now()
    competition = draft_ready_to_activate(starts_at=now - timedelta(hours=1))
    competition_activate(competition=competition, now=now)
    competition.refresh_from_db()
    assert competition.status == Status.ACTIVE


def test_activation_lists_a_future_competition_as_upcoming():
    now = timezone.now()
    competition = draft_ready_to_activate(
        starts_at=now + timedelta(days=1), ends_at=now + timedelta(days=8)
    )
    competition_activate(competition=competition, now=now)
    competition.refresh_from_db()
    assert competition.status == Status.UPCOMING


def test_activation_is_logged_without_revealing_the_seed():
    staff = UserFactory(is_staff=True)
    competition = competition_activate(competition=draft_ready_to_activate(), by=staff)

    entry = DrawLogEntry.objects.get(competition=competition, action="seed_committed")
    assert entry.actor == staff
    assert entry.data["seed_commitment"] == competition.seed_commitment
    assert competition.draw_seed not in str(entry.data)
    assert competition.draw_seed not in entry.message


@pytest.mark.parametrize("stored", [Status.ACTIVE, Status.UPCOMING, Status.DRAWN, Status.CANCELLED])
def test_only_drafts_can_be_activated(stored):
    competition = draft_ready_to_activate()
    Competition.objects.filter(pk=competition.pk).update(
        status=stored, seed_commitment=FAKE_COMMITMENT
    )
    with pytest.raises(ActivationRefused, match="draft"):
        competition_activate(competition=competition)
    competition.refresh_from_db()
    assert competition.seed_commitment == FAKE_COMMITMENT
    assert not DrawLogEntry.objects.exists()


def test_activating_twice_is_refused_and_keeps_the_first_commitment():
    competition = competition_activate(competition=draft_ready_to_activate())
    with pytest.raises(ActivationRefused):
        competition_activate(competition=competition)
    competition.refresh_from_db()
    assert (
        competition.seed_commitment
        == hashlib.sha256(bytes.fromhex(competition.draw_seed)).hexdigest()
    )
    assert DrawLogEntry.objects.filter(action="seed_committed").count() == 1


def _assert_refused(competition, message):
    with pytest.raises(ActivationRefused, match=message):
        competition_activate(competition=competition)
    competition.refresh_from_db()
    assert competition.status == Status.DRAFT
    assert competition.seed_commitment == ""
    assert competition.draw_seed == ""


def test_activation_needs_a_correct_answer():
    competition = CompetitionFactory()
    AnswerChoiceFactory(competition=competition, is_correct=False)
    AnswerChoiceFactory(competition=competition, is_correct=False)
    PrizeFactory(competition=competition)
    _assert_refused(competition, "correct")


def test_activation_needs_at_least_two_answers():
    competition = CompetitionFactory()
    AnswerChoiceFactory(competition=competition, is_correct=True)
    PrizeFactory(competition=competition)
    _assert_refused(competition, "two answers")


def test_activation_needs_a_draw_prize():
    competition = draft_ready_to_activate(prizes=0)
    PrizeFactory(competition=competition, kind="instant", position=None)
    _assert_refused(competition, "draw prize")


def test_activation_refused_once_the_end_has_passed():
    now = timezone.now()
    competition = draft_ready_to_activate(
        starts_at=now - timedelta(days=3), ends_at=now - timedelta(seconds=1)
    )
    _assert_refused(competition, "end time")


def test_activation_refused_at_the_exact_end_time():
    now = timezone.now()
    competition = draft_ready_to_activate(starts_at=now - timedelta(days=3), ends_at=now)
    with pytest.raises(ActivationRefused):
        competition_activate(competition=competition, now=now)


def _stored(competition):
    competition.refresh_from_db()
    return competition.status


def test_sync_brings_stored_statuses_up_to_the_clock():
    now = timezone.now()
    live = {"seed_commitment": FAKE_COMMITMENT}
    started = CompetitionFactory(status=Status.UPCOMING, starts_at=now - timedelta(hours=1), **live)
    finished = CompetitionFactory(
        status=Status.ACTIVE,
        starts_at=now - timedelta(days=2),
        ends_at=now - timedelta(minutes=1),
        **live,
    )
    sold_out = CompetitionFactory(
        status=Status.ACTIVE, max_tickets=10, max_tickets_per_user=5, tickets_sold=10, **live
    )
    moved_later = CompetitionFactory(
        status=Status.ACTIVE,
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=5),
        **live,
    )
    in_step = CompetitionFactory(status=Status.ACTIVE, **live)
    draft = CompetitionFactory(status=Status.DRAFT, ends_at=now - timedelta(minutes=1))
    drawn = CompetitionFactory(status=Status.DRAWN, ends_at=now - timedelta(minutes=1), **live)
    cancelled = CompetitionFactory(status=Status.CANCELLED, **live)

    assert competition_sync_statuses(now=now) == 4

    assert _stored(started) == Status.ACTIVE
    assert _stored(finished) == Status.ENDED
    assert _stored(sold_out) == Status.ENDED
    assert _stored(moved_later) == Status.UPCOMING
    assert _stored(in_step) == Status.ACTIVE
    assert _stored(draft) == Status.DRAFT
    assert _stored(drawn) == Status.DRAWN
    assert _stored(cancelled) == Status.CANCELLED
    for competition in Competition.objects.all():
        assert competition.status == competition.live_status(now)
    # Nothing left to do.
    assert competition_sync_statuses(now=now) == 0


def test_sync_task_runs_the_service():
    now = timezone.now()
    competition = CompetitionFactory(
        status=Status.ACTIVE,
        seed_commitment=FAKE_COMMITMENT,
        starts_at=now - timedelta(days=2),
        ends_at=now - timedelta(minutes=1),
    )
    assert sync_competition_statuses.delay().get(timeout=10) == 1
    assert _stored(competition) == Status.ENDED


def test_beat_schedule_names_only_registered_tasks():
    from config import celery_app

    celery_app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "competitions.tasks.sync_competition_statuses" in scheduled
    missing = scheduled - set(celery_app.tasks.keys())
    assert not missing, f"beat would fire unknown tasks: {sorted(missing)}"
