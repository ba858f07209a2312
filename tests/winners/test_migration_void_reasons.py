"""Wins voided before a void had a reason were all refunds (competitions 0010), and an instant
winner staff rejected back then gets the void the rejection now makes (winners 0004), as of the
rejection, so the public list no longer calls them "winner being verified"."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.factories import UserFactory, correct_answer, instant_numbers, instant_win_competition
from tickets.services import order_record_paid

BEFORE = [
    ("competitions", "0009_instant_win_voided_at"),
    ("winners", "0003_winner_for_instant_wins"),
]


@pytest.mark.django_db(transaction=True)
def test_old_void_wins_are_refunds_and_old_rejections_void_the_win():
    competition = instant_win_competition()
    refunded, rejected, standing = instant_numbers(competition)[:3]
    for number in (refunded, rejected, standing):
        order_record_paid(
            user=UserFactory(),
            competition=competition,
            answer=correct_answer(competition),
            numbers=[number],
        )

    apps = MigrationExecutor(connection).migrate(BEFORE).apps
    InstantWin = apps.get_model("competitions", "InstantWin")
    Winner = apps.get_model("winners", "Winner")
    wins = {w.number: w for w in InstantWin.objects.filter(competition_id=competition.pk)}
    InstantWin.objects.filter(pk=wins[refunded].pk).update(voided_at="2026-11-01T10:00:00Z")
    Winner.objects.filter(instant_win__number__in=[refunded]).update(
        verification_status="rejected", verified_at="2026-11-01T10:00:00Z"
    )
    Winner.objects.filter(instant_win_id=wins[rejected].pk).update(
        verification_status="rejected", verified_at="2026-11-02T09:30:00Z"
    )

    executor = MigrationExecutor(connection)
    apps = executor.migrate(executor.loader.graph.leaf_nodes()).apps
    InstantWin = apps.get_model("competitions", "InstantWin")
    after = {
        w.number: (w.void_reason, w.voided_at and w.voided_at.isoformat())
        for w in InstantWin.objects.filter(competition_id=competition.pk, won_at__isnull=False)
    }
    assert after == {
        refunded: ("refunded", "2026-11-01T10:00:00+00:00"),
        rejected: ("ineligible", "2026-11-02T09:30:00+00:00"),
        standing: ("", None),
    }
