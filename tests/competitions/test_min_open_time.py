"""The operator's minimum open time, checked when a competition is activated."""

from datetime import datetime

import pytest
from django.utils import timezone

from competitions.exceptions import ActivationRefused
from competitions.services import clear_days_between, competition_activate
from tests.factories import draft_ready_to_activate, operator_settings

pytestmark = pytest.mark.django_db


def uk(*args) -> datetime:
    return timezone.make_aware(datetime(*args))


@pytest.fixture(autouse=True)
def three_clear_days(db):
    operator_settings(min_open_clear_days=3)


BEFORE = uk(2026, 11, 20, 9, 0)


def draft(opens, closes):
    return draft_ready_to_activate(starts_at=opens, ends_at=closes, draw_at=closes)


def test_exactly_the_minimum_is_accepted():
    # Monday to Friday: Tuesday, Wednesday and Thursday are clear.
    competition = draft(uk(2026, 11, 30, 23, 0), uk(2026, 12, 4, 0, 30))
    activated = competition_activate(competition=competition, now=BEFORE)
    assert activated.activated_at == BEFORE


def test_one_day_fewer_is_refused():
    competition = draft(uk(2026, 11, 30, 0, 1), uk(2026, 12, 3, 23, 59))
    with pytest.raises(ActivationRefused, match=r"at least 3 clear days.*it has 2"):
        competition_activate(competition=competition, now=BEFORE)
    competition.refresh_from_db()
    assert competition.status == "draft"


def test_sundays_are_not_counted():
    # Friday to Tuesday: Saturday, Sunday, Monday between, but the Sunday doesn't count.
    assert clear_days_between(uk(2026, 11, 27, 12), uk(2026, 12, 1, 12)) == 2
    with pytest.raises(ActivationRefused):
        competition_activate(
            competition=draft(uk(2026, 11, 27, 12), uk(2026, 12, 1, 12)), now=BEFORE
        )
    # Friday to Wednesday: Saturday, Monday, Tuesday.
    competition_activate(competition=draft(uk(2026, 11, 27, 12), uk(2026, 12, 2, 12)), now=BEFORE)


def test_days_follow_uk_time():
    # 00:30 BST on Friday 5 June is still Thursday in UTC; in UK days Tue, Wed, Thu are clear.
    assert clear_days_between(uk(2026, 6, 1, 23, 30), uk(2026, 6, 5, 0, 30)) == 3


def test_counted_from_now_when_the_start_has_passed():
    competition = draft(uk(2026, 11, 1, 9), uk(2026, 12, 4, 12))
    with pytest.raises(ActivationRefused, match="it has 2"):
        competition_activate(competition=competition, now=uk(2026, 12, 1, 9))


def test_operator_can_set_the_minimum():
    operator_settings(min_open_clear_days=0)
    competition_activate(competition=draft(uk(2026, 12, 1, 9), uk(2026, 12, 1, 10)), now=BEFORE)
    competition = draft(uk(2026, 12, 1, 9), uk(2026, 12, 1, 10))
    with pytest.raises(ActivationRefused):
        competition_activate(competition=competition, now=BEFORE, min_clear_days=1)


def test_the_minimum_comes_from_the_operator_settings_row():
    """Changed in admin, in force at the next activation; the environment only gave the
    first value."""
    operator_settings(min_open_clear_days=5)
    competition = draft(uk(2026, 11, 30, 23, 0), uk(2026, 12, 4, 0, 30))  # 3 clear days
    with pytest.raises(ActivationRefused, match=r"at least 5 clear days.*it has 3"):
        competition_activate(competition=competition, now=BEFORE)
    operator_settings(min_open_clear_days=3)
    competition_activate(competition=competition, now=BEFORE)


def test_a_new_row_takes_its_first_value_from_the_environment(settings):
    from core.models import OperatorSettings

    OperatorSettings.objects.all().delete()
    settings.FAIRDRAW_MIN_OPEN_CLEAR_DAYS = 4
    assert OperatorSettings.current().min_open_clear_days == 4
