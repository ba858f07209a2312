from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import UserFactory, active_competition, correct_answer, wrong_answer
from tickets.services import order_record_paid


def buy(competition, *, quantity=None, numbers=(), correct=True, user=None):
    return order_record_paid(
        user=user or UserFactory(),
        competition=competition,
        answer=correct_answer(competition) if correct else wrong_answer(competition),
        quantity=quantity,
        numbers=numbers,
        now=timezone.now(),
    )


def after_end(competition, **delta):
    return competition.ends_at + timedelta(**(delta or {"minutes": 1}))


@pytest.fixture
def admins(settings):
    settings.ADMINS = [("Ops", "ops@fairdraw.example")]
    return settings.ADMINS


@pytest.fixture
def closed_competition():
    """Three draw prizes, 12 valid tickets from four buyers and 3 invalid ones; ends in a
    week (tests move the clock with `now=`)."""
    competition = active_competition(prizes=3)
    for _ in range(4):
        buy(competition, quantity=3)
    buy(competition, quantity=3, correct=False)
    competition.refresh_from_db()
    return competition


def free_number(competition):
    """A number no ticket of the competition holds (lucky dips are random)."""
    taken = set(competition.tickets.values_list("number", flat=True))
    return max(set(range(1, competition.max_tickets + 1)) - taken)
