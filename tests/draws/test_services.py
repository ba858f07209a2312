"""Performing a draw: once, only after the end, only among valid entries, and checkably."""

import hashlib
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from competitions.lifecycle import Status
from competitions.models import Competition
from competitions.services import competition_change_dates
from draws.beacon import round_time
from draws.exceptions import AlreadyDrawn, BeaconPending, DrawNotDue
from draws.fairness import LedgerHasher, commitment_for, winning_indexes
from draws.models import Draw, DrawLogEntry
from draws.services import draw_perform
from tests.factories import (
    TicketFactory,
    UserFactory,
    active_competition,
    correct_answer,
    draft_ready_to_activate,
    wrong_answer,
)
from tickets.models import Ticket
from tickets.services import order_record_paid
from winners.models import Winner

pytestmark = pytest.mark.django_db


def buy(competition, *, quantity=None, numbers=(), correct=True, user=None):
    return order_record_paid(
        user=user or UserFactory(),
        competition=competition,
        answer=correct_answer(competition) if correct else wrong_answer(competition),
        quantity=quantity,
        numbers=numbers,
        now=timezone.now(),
    )


def after_end(competition):
    return competition.ends_at + timedelta(minutes=1)


def draw(competition, **kw):
    kw.setdefault("mode", Draw.Mode.AUTOMATIC)
    kw.setdefault("now", after_end(competition))
    return draw_perform(competition=competition, **kw)


def active_numbers(competition):
    return list(
        Ticket.objects.filter(competition=competition, status=Ticket.Status.ACTIVE)
        .order_by("number")
        .values_list("number", flat=True)
    )


@pytest.fixture
def sold_competition():
    """On sale with three draw prizes; 12 valid tickets from four buyers and 3 invalid ones."""
    competition = active_competition(prizes=3)
    for _ in range(4):
        buy(competition, quantity=3)
    buy(competition, quantity=3, correct=False)
    competition.refresh_from_db()
    return competition


def test_draw_refused_before_the_end(sold_competition):
    with pytest.raises(DrawNotDue):
        draw(sold_competition, now=sold_competition.ends_at - timedelta(seconds=1))
    sold_competition.refresh_from_db()
    assert sold_competition.status == Status.ACTIVE
    assert not Draw.objects.exists()
    assert not Winner.objects.exists()


def test_draw_waits_for_the_announced_beacon_round(sold_competition):
    published = round_time(sold_competition.beacon_round)
    # (The test settings' margin is 0: the round is the first at or after the close, so the
    # competition has ended a moment before it is published.)
    assert published > sold_competition.ends_at
    with pytest.raises(BeaconPending, match=f"round {sold_competition.beacon_round}"):
        draw(sold_competition, now=published - timedelta(microseconds=1))
    sold_competition.refresh_from_db()
    assert sold_competition.status != Status.DRAWN
    assert not Draw.objects.filter(status=Draw.Status.COMPLETED).exists()
    result = draw(sold_competition, now=published)
    assert result.status == Draw.Status.COMPLETED
    assert result.beacon_round == sold_competition.beacon_round


def test_sold_out_competition_is_drawn_once_staff_bring_the_close_forward():
    """Sold out early, a competition still waits for the round announced for its close; staff
    bringing the close forward moves the round by the same rule (from now), publicly."""
    competition = active_competition(max_tickets=4, max_tickets_per_user=4)
    buy(competition, quantity=4)
    now = timezone.now()
    with pytest.raises(BeaconPending):
        draw(competition, mode=Draw.Mode.ADMIN, now=now)
    staff = UserFactory(is_staff=True)
    competition = competition_change_dates(
        competition=competition,
        by=staff,
        starts_at=competition.starts_at,
        ends_at=now,
        draw_at=now,
        now=now,
    )
    moved = DrawLogEntry.objects.get(action="beacon_round_moved")
    assert moved.data["round"] == competition.beacon_round and moved.actor == staff
    result = draw(competition, mode=Draw.Mode.ADMIN, now=round_time(competition.beacon_round))
    assert result.status == Draw.Status.COMPLETED


def test_automatic_draw_waits_for_the_advertised_draw_time():
    competition = active_competition(max_tickets=4, max_tickets_per_user=4)
    Competition.objects.filter(pk=competition.pk).update(
        draw_at=competition.ends_at + timedelta(hours=2)
    )
    buy(competition, quantity=4)  # sold out: entries closed, but the draw is advertised later
    with pytest.raises(DrawNotDue, match="drawn automatically at"):
        draw(competition, now=competition.ends_at + timedelta(hours=1))
    assert not Draw.objects.filter(status=Draw.Status.COMPLETED).exists()
    result = draw(competition, now=competition.ends_at + timedelta(hours=2))
    assert result.mode == Draw.Mode.AUTOMATIC


def test_automatic_draw_refused_when_disabled_but_staff_may_draw(sold_competition):
    Competition.objects.filter(pk=sold_competition.pk).update(auto_draw_enabled=False)
    with pytest.raises(DrawNotDue, match="disabled"):
        draw(sold_competition)
    assert draw(sold_competition, mode=Draw.Mode.ADMIN).status == Draw.Status.COMPLETED


def test_below_its_minimum_it_waits_for_staff_to_extend_or_cancel(sold_competition):
    """The competition page promises an extension or a refund, never a draw among too few."""
    from draws.services import draws_close_and_find_due

    Competition.objects.filter(pk=sold_competition.pk).update(min_tickets=16)  # 15 sold
    sold_competition.refresh_from_db()
    assert draws_close_and_find_due(now=after_end(sold_competition)) == []
    with pytest.raises(DrawNotDue, match="has 15 of the 16 entries it needs"):
        draw(sold_competition)
    assert not Draw.objects.filter(status=Draw.Status.COMPLETED).exists()
    # Staff may still decide to draw it; at the minimum the automatic draw goes ahead.
    Competition.objects.filter(pk=sold_competition.pk).update(min_tickets=15)
    sold_competition.refresh_from_db()
    assert draws_close_and_find_due(now=after_end(sold_competition)) == [sold_competition.pk]
    assert draw(sold_competition).status == Draw.Status.COMPLETED


@pytest.mark.parametrize("stored", [Status.DRAFT, Status.CANCELLED])
def test_draft_or_cancelled_competition_is_not_drawn(stored):
    competition = draft_ready_to_activate()
    if stored == Status.CANCELLED:
        competition = active_competition()
        Competition.objects.filter(pk=competition.pk).update(status=stored)
    with pytest.raises(DrawNotDue):
        draw(competition)
    assert not Draw.objects.exists()


def test_draw_picks_winners_and_publishes_verification_data(sold_competition):
    staff = UserFactory(is_staff=True)
    performed_at = after_end(sold_competition)
    result = draw(sold_competition, mode=Draw.Mode.ADMIN, by=staff, now=performed_at)

    result.refresh_from_db()
    competition = Competition.objects.get(pk=sold_competition.pk)
    assert result.status == Draw.Status.COMPLETED
    assert result.mode == Draw.Mode.ADMIN
    assert result.performed_by == staff
    assert result.performed_at == performed_at
    # The revealed seed is the one committed at activation.
    assert result.seed == competition.draw_seed
    assert result.seed_commitment == competition.seed_commitment == commitment_for(result.seed)
    # The ledger is the valid tickets, ascending.
    numbers = active_numbers(competition)
    assert len(numbers) == 12
    assert result.entry_count == 12
    assert result.ledger_hash == LedgerHasher().add_all(numbers).hexdigest()
    # One winner per draw prize, on distinct valid tickets.
    winners = list(Winner.objects.filter(draw=result).order_by("prize__position"))
    assert [w.prize.position for w in winners] == [1, 2, 3]
    assert len({w.ticket_id for w in winners}) == 3
    for winner in winners:
        assert winner.ticket.competition_id == competition.pk
        assert winner.ticket.status == Ticket.Status.ACTIVE
        assert winner.user == winner.ticket.user
        assert winner.display_name == winner.ticket.user.public_name
        assert numbers[winner.ledger_index] == winner.ticket.number
    assert result.winning_ticket == winners[0].ticket
    assert result.winning_index == winners[0].ledger_index
    assert competition.status == Status.DRAWN


def test_anyone_can_recompute_the_winners_from_published_data(sold_competition):
    result = draw(sold_competition)
    result.refresh_from_db()
    # The randomness is the announced beacon round's: SHA-256 of its signature.
    assert result.beacon_round == sold_competition.beacon_round
    assert result.entropy == hashlib.sha256(bytes.fromhex(result.beacon_signature)).hexdigest()

    indexes = winning_indexes(
        seed=result.seed,
        ledger_hash=result.ledger_hash,
        entropy=result.entropy,
        count=result.entry_count,
        prizes=3,
    )
    assert indexes[0] == result.winning_index
    winners = Winner.objects.filter(draw=result).order_by("prize__position")
    assert [w.ledger_index for w in winners] == indexes
    numbers = active_numbers(sold_competition)
    assert [w.ticket.number for w in winners] == [numbers[i] for i in indexes]


def test_beacon_randomness_is_part_of_the_outcome(sold_competition):
    result = draw(sold_competition)
    without = winning_indexes(
        seed=result.seed,
        ledger_hash=result.ledger_hash,
        entropy="",
        count=result.entry_count,
        prizes=3,
    )
    with_entropy = [w.ledger_index for w in result.winners.order_by("prize__position")]
    assert with_entropy != without


def test_draw_is_logged(sold_competition):
    result = draw(sold_competition)
    actions = list(
        DrawLogEntry.objects.filter(competition=sold_competition).values_list("action", flat=True)
    )
    assert actions == ["seed_committed", "beacon_round_announced", "ledger_frozen", "drawn"]
    drawn = DrawLogEntry.objects.get(action="drawn")
    assert drawn.draw == result
    assert drawn.data["winning_numbers"] == [
        w.ticket.number for w in result.winners.order_by("prize__position")
    ]


def test_second_draw_is_refused_and_changes_nothing(sold_competition):
    first = draw(sold_competition)
    winners = sorted(Winner.objects.values_list("ticket_id", flat=True))

    with pytest.raises(AlreadyDrawn):
        draw(sold_competition)
    with pytest.raises(AlreadyDrawn):
        draw(sold_competition, mode=Draw.Mode.ADMIN)

    assert list(Draw.objects.values_list("pk", flat=True)) == [first.pk]
    assert sorted(Winner.objects.values_list("ticket_id", flat=True)) == winners


@pytest.mark.parametrize("attempt", range(3))
def test_only_valid_tickets_can_win(attempt):
    """Among 30 invalid, 10 refunded and one valid ticket, the valid one must win."""
    competition = active_competition(max_tickets=50, max_tickets_per_user=30)
    buy(competition, numbers=range(1, 31), correct=False)
    for number in range(31, 41):
        TicketFactory(competition=competition, number=number, status=Ticket.Status.REFUNDED)
    lucky = buy(competition, numbers=[40 + attempt]).tickets.get()

    result = draw(competition)

    assert result.entry_count == 1
    assert result.ledger_hash == LedgerHasher().add_all([40 + attempt]).hexdigest()
    assert result.winning_ticket == lucky
    assert Winner.objects.get().ticket == lucky


def test_free_postal_entry_is_in_the_draw():
    competition = active_competition()
    buy(competition, numbers=[1, 2, 3, 4, 5], correct=False)
    postal = TicketFactory(competition=competition, number=77, source=Ticket.Source.POSTAL)
    result = draw(competition)
    assert result.winning_ticket == postal


def test_no_valid_entries_closes_without_a_winner():
    competition = active_competition()
    buy(competition, quantity=2, correct=False)
    result = draw(competition)

    assert result.status == Draw.Status.NO_ENTRIES
    assert result.entry_count == 0
    assert result.winning_ticket is None
    assert result.winning_index is None
    assert not Winner.objects.exists()
    competition.refresh_from_db()
    assert competition.status == Status.DRAWN
    assert DrawLogEntry.objects.filter(action="closed_without_entries").exists()


def test_no_tickets_at_all_closes_without_a_winner():
    competition = active_competition()
    result = draw(competition)
    assert result.status == Draw.Status.NO_ENTRIES
    assert result.ledger_hash == LedgerHasher().hexdigest()
    assert not Winner.objects.exists()


def test_fewer_entries_than_prizes_each_entry_wins_once():
    competition = active_competition(prizes=3)
    buy(competition, quantity=2)
    result = draw(competition)
    winners = list(result.winners.order_by("prize__position"))
    assert [w.prize.position for w in winners] == [1, 2]
    assert len({w.ticket_id for w in winners}) == 2


def test_failed_draw_leaves_nothing_behind(sold_competition, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(
        "winners.services.Winner", SimpleNamespace(objects=SimpleNamespace(create=boom))
    )
    with pytest.raises(RuntimeError):
        draw(sold_competition)

    sold_competition.refresh_from_db()
    assert sold_competition.status == Status.ACTIVE
    assert not Draw.objects.exists()
    assert not Winner.objects.exists()
    # Only the failure itself is recorded (after the rollback), for the operators.
    failed = DrawLogEntry.objects.exclude(
        action__in=["seed_committed", "beacon_round_announced"]
    ).get()
    assert failed.action == "draw_failed"
    assert "database went away" in failed.message
    # And the real draw still works afterwards.
    monkeypatch.undo()
    assert draw(sold_competition).status == Draw.Status.COMPLETED
