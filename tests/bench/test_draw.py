"""bench/draw.py and the clean-up it shares (bench/common.py), at a small size."""

import argparse

import pytest
from django.db import connection

from accounts.models import User
from bench import draw as draw_bench
from bench.common import delete_with_referencing_rows
from competitions.models import Competition, SkillAnswerStats
from draws.models import Draw, DrawLogEntry, LedgerVersion
from tests.factories import TicketFactory, UserFactory, active_competition
from tickets.models import Ticket
from winners.models import Winner

pytestmark = pytest.mark.django_db


def test_the_draw_bench_draws_with_the_beacon_round_and_leaves_nothing_behind(on_postgres):
    before = Competition.objects.count(), User.objects.count()

    result = draw_bench.run(argparse.Namespace(draw_sizes="200", draw_keep=False))

    [row] = result["rows"]
    size, entries, *_, good, fast = row
    assert (size, entries, good, fast) == (200, 190, True, True)
    assert result["ok"]
    assert (Competition.objects.count(), User.objects.count()) == before
    assert not Ticket.objects.exists() and not Draw.objects.exists()


def test_deleting_competitions_takes_every_row_that_references_them(on_postgres):
    going, staying = active_competition(prizes=2), active_competition()
    owner = UserFactory()
    for competition in (going, staying):
        TicketFactory.create_batch(3, competition=competition, user=owner)
    assert SkillAnswerStats.objects.filter(competition__in=[going, staying]).count() == 2
    # Deleting the tickets makes the ledger trigger write a version row for the competition.
    LedgerVersion.objects.filter(competition=going).delete()

    deleted = delete_with_referencing_rows({"competitions_competition": [going.pk]})

    assert deleted["competitions_competition"] == 1 and deleted["tickets_ticket"] == 3
    assert deleted["competitions_prize"] == 2 and deleted["competitions_skillanswerstats"] == 1
    assert not Competition.objects.filter(pk=going.pk).exists()
    assert not LedgerVersion.objects.filter(competition_id=going.pk).exists()
    assert not DrawLogEntry.objects.filter(competition_id=going.pk).exists()
    assert Ticket.objects.filter(competition=staying).count() == 3
    assert SkillAnswerStats.objects.filter(competition=staying).exists()
    assert User.objects.filter(pk=owner.pk).exists()


def test_deleting_a_user_follows_references_through_other_rows(on_postgres):
    competition = active_competition()
    user = UserFactory()
    ticket = TicketFactory(competition=competition, user=user)
    other = TicketFactory(competition=competition)
    with connection.cursor() as cursor:
        # A table the clean-up does not know, referencing the user's ticket but not the user
        # (created in the test's transaction: rolled back with it).
        cursor.execute(
            "CREATE TABLE bench_test_mention "
            "(id serial PRIMARY KEY, ticket_id bigint REFERENCES tickets_ticket (id))"
        )
        cursor.execute("INSERT INTO bench_test_mention (ticket_id) VALUES (%s)", [ticket.pk])

    deleted = delete_with_referencing_rows({"accounts_user": [user.pk]})

    assert {"bench_test_mention": 1, "tickets_ticket": 1, "accounts_user": 1}.items() <= (
        deleted.items()
    )
    assert list(Ticket.objects.values_list("pk", flat=True)) == [other.pk]
    assert Competition.objects.filter(pk=competition.pk).exists()
    assert not Winner.objects.exists()
