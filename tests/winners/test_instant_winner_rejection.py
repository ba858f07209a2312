"""Staff reject an instant winner who failed verification (under 18, excluded, fraud): the win
is void in the same transaction, shown in public as "void: the winner was not eligible" (never
the name, never the staff's reason), and the prize is not awarded again (docs/architecture.md
§4, item 6). A void win is never reinstated: approving its winner is refused."""

from datetime import UTC, datetime, timedelta

import pytest

from competitions.models import InstantWin
from core.models import AuditEntry
from draws.instant_wins import verify_instant_wins
from draws.models import Draw
from draws.services import draw_perform
from tests.backoffice.conftest import messages_of, post_action
from tests.factories import (
    UserFactory,
    correct_answer,
    instant_numbers,
    instant_win_competition,
)
from tickets.services import order_record_paid, order_refund
from winners.exceptions import WinnerError
from winners.models import Winner
from winners.services import (
    winner_approve,
    winner_mark_delivered,
    winner_publish,
    winner_reject,
)

pytestmark = pytest.mark.django_db
LABEL = "winners.winner"


@pytest.fixture
def winner():
    """Kim Lane's ticket won an instant prize; she is approved and on Champions."""
    competition = instant_win_competition(title="Win a Porsche 911")
    number = instant_numbers(competition)[0]
    kim = UserFactory(first_name="Kim", last_name="Lane")
    order_record_paid(
        user=kim, competition=competition, answer=correct_answer(competition), numbers=[number]
    )
    won = Winner.objects.get(competition=competition)
    staff = UserFactory(is_staff=True)
    winner_approve(winner=won, by=staff)
    return winner_publish(winner=won, by=staff)


def instant(winner) -> InstantWin:
    return InstantWin.objects.get(pk=winner.instant_win_id)


def test_the_reject_confirmation_warns_and_writes_nothing(admin_client, winner):
    page = post_action(admin_client, LABEL, "reject", [winner]).content.decode()
    assert (
        f"Ticket #{winner.ticket.number}&#x27;s instant win (£10 cash) in Win a Porsche 911 "
        "becomes void" in page
    )
    assert "void: the winner was not eligible" in page
    winner.refresh_from_db()
    assert winner.verification_status == Winner.Verification.APPROVED and winner.is_published
    assert instant(winner).voided_at is None
    assert not AuditEntry.objects.filter(action="winner.reject").exists()


def test_rejecting_voids_the_win_in_public(admin_client, client, winner):
    done = post_action(
        admin_client, LABEL, "reject", [winner], confirmed="yes", reason="Under 18 (passport)"
    )
    assert messages_of(done) == ["Rejected 1 winner(s)."]

    winner.refresh_from_db()
    assert winner.verification_status == Winner.Verification.REJECTED
    assert not winner.is_published
    win = instant(winner)
    assert win.won_at is not None  # still won: the prize is not awarded again
    assert win.voided_at == winner.verified_at
    assert win.void_reason == InstantWin.VoidReason.INELIGIBLE

    page = client.get(winner.competition.get_absolute_url()).content.decode()
    assert (
        f"<strong>Ticket #{winner.ticket.number}</strong> · void: the winner was not eligible, "
        "the prize is not awarded again" in page
    )
    assert "Kim L." not in page and "Under 18" not in page  # no name, no private reason
    data = client.get(f"/api/competitions/{winner.competition_id}").json()
    (row,) = data["instantWins"]
    assert (row["won"], row["void"]) == (1, 1)

    # Staff see why, and that the win is void.
    detail = admin_client.get(f"/admin/winners/winner/{winner.pk}/change/").content.decode()
    assert "Under 18 (passport)" in detail and ": the winner was not eligible" in detail
    (entry,) = AuditEntry.objects.filter(action="winner.reject", object_id=str(winner.pk))
    assert entry.note.startswith("Under 18 (passport) Instant win on ticket #")


def test_approving_a_void_instant_winner_is_refused(admin_client, winner):
    winner_reject(winner=winner, by=UserFactory(is_staff=True), reason="Excluded: staff family")
    done = post_action(admin_client, LABEL, "approve", [winner])
    (message,) = messages_of(done)
    assert "instant win is void (the winner was not eligible)" in message
    assert "cannot be approved" in message
    winner.refresh_from_db()
    assert winner.verification_status == Winner.Verification.REJECTED
    assert instant(winner).void_reason == InstantWin.VoidReason.INELIGIBLE
    # Only the approval before the rejection is on record.
    assert AuditEntry.objects.filter(action="winner.approve", object_id=str(winner.pk)).count() == 1


def test_rejecting_twice_is_refused_and_changes_nothing(winner):
    staff = UserFactory(is_staff=True)
    winner_reject(winner=winner, by=staff, reason="Fraud")
    voided_at = instant(winner).voided_at
    with pytest.raises(WinnerError, match="already rejected"):
        winner_reject(winner=winner, by=staff, reason="Again")
    assert instant(winner).voided_at == voided_at
    assert AuditEntry.objects.filter(action="winner.reject").count() == 1


def test_a_reject_without_a_reason_leaves_the_win_standing(winner):
    with pytest.raises(WinnerError):
        winner_reject(winner=winner, by=UserFactory(is_staff=True), reason=" ")
    assert instant(winner).voided_at is None


def test_a_delivered_prize_is_named_on_the_reject_confirmation(admin_client, winner):
    winner_mark_delivered(
        winner=winner, by=UserFactory(is_staff=True), now=datetime(2026, 11, 3, 12, tzinfo=UTC)
    )
    page = post_action(admin_client, LABEL, "reject", [winner]).content.decode()
    assert "The prize was already delivered to Kim L. on 3 Nov 2026: recover it separately" in page


def test_a_later_refund_keeps_the_first_reason_and_does_not_void_again(winner):
    winner_reject(winner=winner, by=UserFactory(is_staff=True), reason="Under 18")
    order_refund(order=winner.ticket.order, note="Under 18: money back")
    win = instant(winner)
    assert win.void_reason == InstantWin.VoidReason.INELIGIBLE
    assert not AuditEntry.objects.filter(action="winner.void").exists()
    entry = AuditEntry.objects.get(action="order.refund")
    assert "instant_wins_voided" not in entry.after


def test_the_draw_verifies_with_a_win_void_for_an_ineligible_winner(client, winner):
    winner_reject(winner=winner, by=UserFactory(is_staff=True), reason="Under 18")
    competition = winner.competition
    draw = draw_perform(
        competition=competition, mode=Draw.Mode.ADMIN, now=competition.ends_at + timedelta(1)
    )
    checks = verify_instant_wins(draw)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert any("winner was not eligible" in c.name for c in checks)
    body = client.get(f"/api/draws/{competition.pk}/").json()
    (row,) = body["instantWins"]["won"]
    assert (row["void"], row["voidReason"], row["displayName"]) == (
        True,
        "the winner was not eligible",
        None,
    )

    # A win marked void for an ineligible winner who still stands is caught.
    Winner.objects.filter(pk=winner.pk).update(verification_status="approved")
    assert not all(c.ok for c in verify_instant_wins(draw))
