"""Winners as the public sees them on the Champions page."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from draws.models import Draw
from draws.services import draw_perform
from tests.factories import UserFactory, active_competition, correct_answer
from tickets.services import order_record_paid
from winners.models import Winner

pytestmark = pytest.mark.django_db


@pytest.fixture
def winner():
    competition = active_competition()
    buyer = UserFactory(first_name="Sarah", last_name="Khan")
    order_record_paid(
        user=buyer, competition=competition, answer=correct_answer(competition), quantity=1
    )
    draw_perform(
        competition=competition,
        mode=Draw.Mode.AUTOMATIC,
        now=competition.ends_at + timedelta(minutes=1),
    )
    return Winner.objects.get()


def test_drawn_winner_is_named_publicly_by_first_name_and_initial(winner):
    assert winner.display_name == "Sarah K."
    assert "Sarah K." in winner.announcement
    assert f"#{winner.ticket.number}" in winner.announcement
    assert winner.prize.title in str(winner)


def test_new_winner_awaits_verification_and_is_not_published(winner):
    assert winner.verification_status == Winner.Verification.PENDING
    assert not winner.is_published
    assert list(Winner.objects.published()) == []


def test_published_winners_are_listed(winner):
    winner.is_published = True
    winner.published_at = timezone.now()
    winner.save()
    assert list(Winner.objects.published()) == [winner]


def test_publishing_needs_a_timestamp(winner):
    winner.is_published = True
    winner.published_at = None
    with pytest.raises(IntegrityError), transaction.atomic():
        winner.save()
