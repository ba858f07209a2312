"""Whatever is fixed by rule from a competition's close (the draw's beacon round) hears when
the close moves: `competition_close_moved`, from an extension and from staff moving the end."""

from datetime import timedelta

import pytest

from competitions.services import competition_change_dates, competition_extend_close
from competitions.signals import competition_close_moved
from tests.factories import UserFactory, active_competition

pytestmark = pytest.mark.django_db


@pytest.fixture
def heard():
    calls = []

    def receiver(sender, **kw):
        calls.append((kw["competition"].ends_at, kw["previous_ends_at"]))

    competition_close_moved.connect(receiver, dispatch_uid="test-close-moved-hook")
    yield calls
    competition_close_moved.disconnect(dispatch_uid="test-close-moved-hook")


def test_staff_moving_the_end_is_heard(heard):
    competition = active_competition()
    before = competition.ends_at
    moved = competition_change_dates(
        competition=competition,
        by=UserFactory(is_staff=True),
        starts_at=competition.starts_at,
        ends_at=before + timedelta(days=2),
        draw_at=competition.draw_at + timedelta(days=2),
    )
    assert heard == [(moved.ends_at, before)]


def test_moving_only_the_draw_is_not_a_new_close(heard):
    competition = active_competition()
    competition_change_dates(
        competition=competition,
        by=UserFactory(is_staff=True),
        starts_at=competition.starts_at,
        ends_at=competition.ends_at,
        draw_at=competition.draw_at + timedelta(hours=1),
    )
    assert heard == []


def test_an_extension_is_heard_and_keeps_the_gap_to_the_draw(heard):
    competition = active_competition()
    gap = competition.draw_at - competition.ends_at
    before = competition.ends_at
    extended = competition_extend_close(
        competition=competition, days=3, reason="Minimum not reached", now=before
    )
    assert extended.ends_at == before + timedelta(days=3)
    assert extended.draw_at - extended.ends_at == gap
    assert heard == [(extended.ends_at, before)]
