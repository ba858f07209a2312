"""The entry ledger is frozen at close and the draw is made against exactly that ledger."""

from datetime import timedelta

import pytest
from django.utils import timezone

from competitions.lifecycle import Status
from competitions.models import Competition
from draws.exceptions import AlreadyDrawn, DrawNotDue, LedgerChanged, ManualEntryInvalid
from draws.fairness import LedgerHasher
from draws.models import Draw, DrawLogEntry
from draws.services import (
    draw_freeze_ledger,
    draw_perform,
    draw_refreeze_ledger,
    draws_close_and_find_due,
)
from notifications.models import Notification
from tests.factories import TicketFactory, active_competition
from tickets.models import Ticket
from winners.models import Winner

from .conftest import after_end, buy, free_number

pytestmark = pytest.mark.django_db


def active_numbers(competition):
    return list(
        Ticket.objects.filter(competition=competition, status=Ticket.Status.ACTIVE)
        .order_by("number")
        .values_list("number", flat=True)
    )


def test_freeze_records_hash_and_count_without_revealing_the_seed(closed_competition):
    frozen_at = after_end(closed_competition)
    draw = draw_freeze_ledger(competition=closed_competition, now=frozen_at)

    assert draw.status == Draw.Status.PENDING
    assert draw.ledger_frozen_at == frozen_at
    assert draw.entry_count == 12
    assert (
        draw.ledger_hash == LedgerHasher().add_all(active_numbers(closed_competition)).hexdigest()
    )
    assert draw.seed == ""
    assert draw.seed_commitment == closed_competition.seed_commitment
    entry = DrawLogEntry.objects.get(action="ledger_frozen")
    assert entry.draw == draw
    assert entry.data == {"ledger_hash": draw.ledger_hash, "entry_count": 12}
    # Freezing again keeps the first freeze.
    again = draw_freeze_ledger(competition=closed_competition, now=frozen_at + timedelta(hours=1))
    assert again.pk == draw.pk and again.ledger_frozen_at == frozen_at
    assert DrawLogEntry.objects.filter(action="ledger_frozen").count() == 1


def test_freeze_refused_while_entries_are_open(closed_competition):
    with pytest.raises(DrawNotDue):
        draw_freeze_ledger(competition=closed_competition, now=timezone.now())
    assert not Draw.objects.exists()


def test_draw_uses_the_frozen_ledger_row(closed_competition):
    frozen = draw_freeze_ledger(competition=closed_competition, now=after_end(closed_competition))
    result = draw_perform(
        competition=closed_competition,
        mode=Draw.Mode.AUTOMATIC,
        now=after_end(closed_competition, hours=1),
    )
    assert result.pk == frozen.pk
    assert result.status == Draw.Status.COMPLETED
    assert result.ledger_frozen_at == frozen.ledger_frozen_at
    assert Draw.objects.count() == 1
    assert list(
        DrawLogEntry.objects.filter(competition=closed_competition).values_list("action", flat=True)
    ) == ["seed_committed", "beacon_round_announced", "ledger_frozen", "drawn"]


@pytest.mark.parametrize("change", ["refund", "insert"])
def test_ticket_changed_after_the_freeze_makes_the_draw_refuse_and_alert(
    closed_competition, admins, change
):
    draw_freeze_ledger(competition=closed_competition, now=after_end(closed_competition))
    if change == "refund":
        ticket = Ticket.objects.filter(competition=closed_competition, status="active").first()
        Ticket.objects.filter(pk=ticket.pk).update(status="refunded", refunded_at=timezone.now())
    else:
        TicketFactory(competition=closed_competition, number=free_number(closed_competition))

    with pytest.raises(LedgerChanged, match="changed after it was frozen"):
        draw_perform(
            competition=closed_competition,
            mode=Draw.Mode.AUTOMATIC,
            now=after_end(closed_competition, hours=1),
        )

    closed_competition.refresh_from_db()
    assert closed_competition.status != Status.DRAWN
    assert Draw.objects.get().status == Draw.Status.PENDING
    assert not Winner.objects.exists()
    failed = DrawLogEntry.objects.get(action="draw_failed")
    assert failed.data["error"] == "LedgerChanged"
    alert = Notification.objects.get(kind=Notification.Kind.ADMIN_ALERT)
    assert alert.recipient == "ops@fairdraw.example"
    assert "Draw failed" in alert.payload["subject"]
    # The scheduler pauses this competition until staff act.
    assert draws_close_and_find_due(now=after_end(closed_competition, hours=2)) == []


def test_staff_refreeze_with_a_reason_lets_the_draw_go_ahead(closed_competition, admins):
    first = draw_freeze_ledger(competition=closed_competition, now=after_end(closed_competition))
    TicketFactory(
        competition=closed_competition, number=free_number(closed_competition)
    )  # e.g. a late postal entry
    with pytest.raises(ManualEntryInvalid):
        draw_refreeze_ledger(competition=closed_competition, reason=" ")

    draw = draw_refreeze_ledger(
        competition=closed_competition,
        reason="Postal entry received before close, keyed late",
        now=after_end(closed_competition, minutes=30),
    )
    assert draw.pk == first.pk
    assert draw.entry_count == 13
    entry = DrawLogEntry.objects.get(action="ledger_refrozen")
    assert entry.data["previous_ledger_hash"] == first.ledger_hash
    assert entry.data["ledger_hash"] == draw.ledger_hash
    assert "keyed late" in entry.message
    # Automatic draws resume (the latest log entry is no longer a failure).
    later = after_end(closed_competition, hours=1)
    assert draws_close_and_find_due(now=later) == [closed_competition.pk]
    result = draw_perform(competition=closed_competition, mode=Draw.Mode.AUTOMATIC, now=later)
    assert result.entry_count == 13


def test_reopened_competition_is_frozen_again_at_its_new_close(closed_competition):
    end = closed_competition.ends_at
    draws_close_and_find_due(now=end + timedelta(minutes=1))
    first = Draw.objects.get()
    assert first.ledger_frozen_at is not None

    # Staff extend the competition by a day: it is on sale again, the freeze is stale.
    Competition.objects.filter(pk=closed_competition.pk).update(
        ends_at=end + timedelta(days=1), draw_at=end + timedelta(days=1)
    )
    draws_close_and_find_due(now=end + timedelta(minutes=2))
    stale = Draw.objects.get()
    assert stale.ledger_frozen_at is None
    assert DrawLogEntry.objects.filter(action="ledger_unfrozen").count() == 1

    due = draws_close_and_find_due(now=end + timedelta(days=1, minutes=1))
    assert due == [closed_competition.pk]
    assert Draw.objects.get().ledger_frozen_at == end + timedelta(days=1, minutes=1)
    assert DrawLogEntry.objects.filter(action="ledger_frozen").count() == 2


def test_close_step_freezes_ended_competitions_and_lists_due_ones():
    now = timezone.now()
    due = active_competition()
    later = active_competition()
    off = active_competition()
    running = active_competition()
    for competition in (due, later, off):
        Competition.objects.filter(pk=competition.pk).update(
            starts_at=now - timedelta(days=2), ends_at=now - timedelta(hours=1)
        )
    Competition.objects.filter(pk=due.pk).update(draw_at=now - timedelta(minutes=5))
    Competition.objects.filter(pk=later.pk).update(draw_at=now + timedelta(hours=1))
    Competition.objects.filter(pk=off.pk).update(
        draw_at=now - timedelta(minutes=5), auto_draw_enabled=False
    )

    assert draws_close_and_find_due(now=now) == [due.pk]

    for competition in (due, later, off):
        competition.refresh_from_db()
        assert competition.status == Status.ENDED
        assert competition.draws.get().status == Draw.Status.PENDING
    assert not running.draws.exists()


def test_drawn_competition_refuses_freeze_and_second_draw(closed_competition):
    draw_perform(
        competition=closed_competition,
        mode=Draw.Mode.ADMIN,
        now=after_end(closed_competition),
    )
    with pytest.raises(AlreadyDrawn):
        draw_freeze_ledger(competition=closed_competition, now=after_end(closed_competition))
    with pytest.raises(AlreadyDrawn):
        draw_perform(
            competition=closed_competition, mode=Draw.Mode.ADMIN, now=after_end(closed_competition)
        )
    assert DrawLogEntry.objects.filter(action="draw_refused").count() == 1  # the staff attempt


def test_reserved_or_other_statuses_never_enter_the_ledger():
    """Only `active` tickets are entries, whatever statuses the selling side adds."""
    competition = active_competition()
    buy(competition, numbers=[3])
    TicketFactory(competition=competition, number=5, status=Ticket.Status.INVALID)
    TicketFactory(competition=competition, number=7, status=Ticket.Status.REFUNDED)
    draw = draw_freeze_ledger(competition=competition, now=after_end(competition))
    assert draw.entry_count == 1
    assert draw.ledger_hash == LedgerHasher().add_all([3]).hexdigest()
