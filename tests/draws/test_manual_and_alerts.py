"""Manual winner entries, no staff-chosen randomness, and what a draw tells people (through the outbox)."""

import pytest
from django.utils import timezone

from competitions.lifecycle import Status
from draws.exceptions import ManualEntryInvalid
from draws.fairness import winning_indexes
from draws.models import Draw, DrawLogEntry
from draws.selectors import ledger_index_of
from draws.services import draw_perform, draw_perform_manual
from notifications.models import Notification
from tests.factories import TicketFactory, UserFactory, active_competition
from tickets.models import Ticket
from winners.models import Winner

from .conftest import after_end, buy

pytestmark = pytest.mark.django_db


def manual(competition, number, reason="Live draw on stream; system outage", **kw):
    return draw_perform_manual(
        competition=competition,
        ticket_number=number,
        reason=reason,
        by=kw.pop("by", None) or UserFactory(is_staff=True),
        now=after_end(competition),
        **kw,
    )


def test_manual_winner_is_recorded_as_manual(closed_competition):
    staff = UserFactory(is_staff=True)
    number = Ticket.objects.filter(competition=closed_competition, status="active").last().number

    draw = manual(closed_competition, number, by=staff)

    assert draw.mode == Draw.Mode.MANUAL
    assert draw.performed_by == staff
    assert draw.manual_reason == "Live draw on stream; system outage"
    assert draw.winning_ticket.number == number
    first, *others = draw.winners.order_by("prize__position")
    assert first.ticket.number == number
    assert first.ledger_index == ledger_index_of(closed_competition.pk, number)
    # The other prizes are drawn by the usual recipe, around the fixed 1st prize.
    expected = winning_indexes(
        seed=draw.seed,
        ledger_hash=draw.ledger_hash,
        entropy=draw.entropy,
        count=draw.entry_count,
        prizes=3,
        fixed=(first.ledger_index,),
    )
    assert [w.ledger_index for w in [first, *others]] == expected
    assert len({w.ticket_id for w in [first, *others]}) == 3
    drawn = DrawLogEntry.objects.get(action="drawn")
    assert drawn.actor == staff and "entered manually" in drawn.message
    closed_competition.refresh_from_db()
    assert closed_competition.status == Status.DRAWN


@pytest.mark.parametrize("status", [Ticket.Status.INVALID, Ticket.Status.REFUNDED, None])
def test_manual_winner_must_be_a_valid_ticket_of_the_competition(closed_competition, status):
    taken = set(closed_competition.tickets.values_list("number", flat=True))
    free = min(set(range(1, 101)) - taken)
    if status is None:  # a ticket of another competition
        number = TicketFactory(competition=active_competition(), number=free).number
    else:
        number = TicketFactory(competition=closed_competition, number=free, status=status).number
    with pytest.raises(ManualEntryInvalid, match="not a valid entry"):
        manual(closed_competition, number)
    assert not Draw.objects.filter(status=Draw.Status.COMPLETED).exists()
    assert DrawLogEntry.objects.filter(action="draw_refused").exists()


def test_manual_winner_needs_a_reason(closed_competition):
    number = Ticket.objects.filter(competition=closed_competition, status="active").first().number
    with pytest.raises(ManualEntryInvalid, match="reason"):
        manual(closed_competition, number, reason="   ")
    assert not Winner.objects.exists()


def test_manual_draw_cannot_bypass_random_mode_checks():
    with pytest.raises(ValueError):
        draw_perform(competition=active_competition(), mode=Draw.Mode.MANUAL)


def test_staff_cannot_give_the_randomness(closed_competition):
    """The randomness is the announced beacon round: no service takes one from staff."""
    with pytest.raises(TypeError):
        draw_perform(
            competition=closed_competition,
            mode=Draw.Mode.ADMIN,
            entropy="my lucky number",
            now=after_end(closed_competition),
        )
    with pytest.raises(TypeError):
        draw_perform_manual(
            competition=closed_competition, ticket_number=1, reason="x", by=None, entropy="1"
        )
    assert not Draw.objects.filter(status=Draw.Status.COMPLETED).exists()


def test_winners_and_operators_are_told_through_the_outbox(closed_competition, admins):
    draw = draw_perform(
        competition=closed_competition, mode=Draw.Mode.ADMIN, now=after_end(closed_competition)
    )
    winners = list(draw.winners.all())
    announced = Notification.objects.filter(kind=Notification.Kind.WINNER_ANNOUNCED)
    for winner in winners:
        assert announced.filter(user=winner.user, channel=Notification.Channel.EMAIL).exists()
    alert = Notification.objects.get(kind=Notification.Kind.ADMIN_ALERT)
    assert f"Draw completed: {closed_competition.title}" in alert.payload["subject"]
    for winner in winners:
        assert f"#{winner.ticket.number}" in alert.payload["context"]["message"]


def test_no_valid_entries_closes_without_a_winner_and_tells_the_operators(admins):
    competition = active_competition()
    buy(competition, quantity=2, correct=False)
    draw = draw_perform(competition=competition, mode=Draw.Mode.ADMIN, now=after_end(competition))

    assert draw.status == Draw.Status.NO_ENTRIES
    competition.refresh_from_db()
    assert competition.status == Status.DRAWN
    assert DrawLogEntry.objects.filter(action="closed_without_entries", draw=draw).exists()
    alert = Notification.objects.get(kind=Notification.Kind.ADMIN_ALERT)
    assert "without a winner" in alert.payload["subject"]
    assert not Notification.objects.filter(kind=Notification.Kind.WINNER_ANNOUNCED).exists()


def test_failed_draw_alerts_the_operators_once_an_hour(closed_competition, admins, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("winners.events.winner_announced", boom)
    for _ in range(3):
        with pytest.raises(RuntimeError):
            draw_perform(
                competition=closed_competition,
                mode=Draw.Mode.AUTOMATIC,
                now=after_end(closed_competition),
            )
    assert DrawLogEntry.objects.filter(action="draw_failed").count() == 3
    alerts = Notification.objects.filter(kind=Notification.Kind.ADMIN_ALERT)
    assert alerts.count() == 1
    assert "disk full" in alerts.get().payload["context"]["message"]
    assert not Winner.objects.exists()
    assert not Notification.objects.filter(kind=Notification.Kind.WINNER_ANNOUNCED).exists()


def test_draw_time_is_recorded_not_the_wall_clock(closed_competition):
    moment = after_end(closed_competition)
    draw = draw_perform(competition=closed_competition, mode=Draw.Mode.ADMIN, now=moment)
    assert draw.performed_at == moment != timezone.now()


@pytest.mark.django_db(transaction=True)
def test_an_after_commit_failure_does_not_turn_a_committed_draw_into_a_failure(monkeypatch):
    """Queueing a notification's send happens after the commit; if that breaks, the draw
    stands (the outbox keeps the message) and is not reported as failed."""
    competition = active_competition()
    buy(competition, quantity=2)

    def broken(notification_id):
        raise RuntimeError("Acquire on closed pool")

    monkeypatch.setattr("notifications.services._dispatch", broken)
    draw = draw_perform(competition=competition, mode=Draw.Mode.ADMIN, now=after_end(competition))
    assert Draw.objects.get().status == Draw.Status.COMPLETED == draw.status
    assert not DrawLogEntry.objects.filter(action="draw_failed").exists()
    assert Notification.objects.filter(kind=Notification.Kind.WINNER_ANNOUNCED).exists()
