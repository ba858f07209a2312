"""A refunded ticket keeps no instant win (docs/architecture.md §4, item 6): the refund voids
the win in its own transaction (the winner rejected with the reason, the customer told, staff
warned first), the number stays won so the prize is never awarded again, and the published
checks still pass, failing if a win is voided on a ticket that stays entered."""

from datetime import timedelta

import pytest
from django.utils import timezone

from competitions.models import InstantWin
from core.models import AuditEntry
from draws.instant_wins import verify_instant_wins
from draws.models import Draw
from draws.services import draw_perform
from draws.verification import all_ok, verify_draw
from notifications.models import Notification
from tests.factories import (
    UserFactory,
    correct_answer,
    force_lucky_dip,
    instant_numbers,
    instant_win_competition,
)
from tickets.cancellation import cancellation_job_run, competition_cancel
from tickets.instant_wins import instant_wins_held
from tickets.models import CancellationJob, Order, Ticket
from tickets.services import order_record_paid, order_refund, postal_entry_add, refund_plan
from winners.models import Winner

pytestmark = pytest.mark.django_db


def buy(competition, *, numbers=(), quantity=None, user=None):
    return order_record_paid(
        user=user or UserFactory(),
        competition=competition,
        answer=correct_answer(competition),
        quantity=quantity,
        numbers=numbers,
    )


@pytest.fixture
def won():
    """A competition whose customer's order (two tickets) holds an instant-win number."""
    competition = instant_win_competition()
    number = instant_numbers(competition)[0]
    other = next(n for n in range(1, 100) if n not in instant_numbers(competition))
    customer = UserFactory(phone="+447700900123")
    order = buy(competition, numbers=[number, other], user=customer)
    winner = Winner.objects.get(competition=competition)
    assert winner.ticket.number == number
    return competition, order, winner


def void_audit(winner):
    return AuditEntry.objects.filter(action="winner.void", object_id=str(winner.pk))


def test_refunding_the_winning_ticket_voids_its_instant_win(won):
    _competition, order, winner = won
    staff = UserFactory(is_staff=True)
    order_refund(order=order, by=staff, note="Customer asked")

    winner.refresh_from_db()
    assert winner.verification_status == Winner.Verification.REJECTED
    assert winner.verified_by == staff and not winner.is_published
    instant = InstantWin.objects.get(pk=winner.instant_win_id)
    assert instant.voided_at is not None and instant.won_at is not None  # still won: not reopened
    (entry,) = void_audit(winner)
    assert entry.actor == staff
    assert "Ticket refunded: Requested by the customer (Customer asked)" in entry.note
    refund_entry = AuditEntry.objects.get(action="order.refund", object_id=str(order.pk))
    assert refund_entry.after["instant_wins_voided"] == [winner.ticket.number]
    # The customer is told, by e-mail and SMS (as the win was), besides the refund e-mail.
    told = Notification.objects.filter(user=winner.user, idempotency_key__contains="-void-")
    assert {n.channel for n in told} == {"email", "sms"}
    email = told.get(channel="email")
    assert email.payload["template"] == "instant_win_void"
    assert (
        "void" in email.payload["subject"]
        and "Customer asked" in email.payload["context"]["reason"]
    )


def test_refunding_another_ticket_of_the_order_leaves_the_win_standing(won):
    _competition, order, winner = won
    other = order.tickets.exclude(pk=winner.ticket_id).get()
    order_refund(order=order, tickets=[other])
    winner.refresh_from_db()
    assert winner.verification_status == Winner.Verification.PENDING
    assert InstantWin.objects.get(pk=winner.instant_win_id).voided_at is None
    assert not void_audit(winner).exists()


def test_a_later_buyer_of_the_void_number_wins_nothing(won):
    competition, order, winner = won
    order_refund(order=order)
    again = buy(competition, numbers=[winner.ticket.number])
    assert again.status == Order.Status.PAID
    assert Winner.objects.filter(competition=competition).count() == 1  # not awarded again
    ticket = again.tickets.select_related("competition").get()
    assert instant_wins_held([ticket]) == {}  # "Your tickets" shows them no win


def test_staff_are_warned_before_refunding_a_winning_ticket(admin_client, won):
    _competition, order, winner = won
    plan = refund_plan(tickets=order.tickets.select_related("competition"))
    (line,) = plan.instant_wins
    assert f"#{winner.ticket.number}" in line and "voids the win" in line
    page = admin_client.post(
        "/admin/tickets/ticket/",
        {"action": "refund", "_selected_action": list(order.tickets.values_list("pk", flat=True))},
    ).content.decode()
    assert "Instant win:" in page and "voids the win" in page

    order_refund(order=order, by=UserFactory(is_staff=True), note="Chargeback")
    listing = admin_client.get(
        f"/admin/winners/winner/?instant_win__voided_at__isnull=False&q={winner.user.email}"
    ).content.decode()
    assert "Void since" in listing
    detail = admin_client.get(f"/admin/winners/winner/{winner.pk}/change/").content.decode()
    assert "Ticket refunded: Requested by the customer (Chargeback)" in detail


def test_cancelling_the_competition_voids_paid_and_postal_instant_wins(monkeypatch, won):
    competition, _order, paid_winner = won
    postal_number = instant_numbers(competition)[1]
    force_lucky_dip(monkeypatch, postal_number)
    postal_entry_add(user=UserFactory(), competition=competition, by=UserFactory(is_staff=True))
    postal_winner = Winner.objects.get(ticket__number=postal_number, competition=competition)
    assert postal_winner.ticket.source == Ticket.Source.POSTAL

    competition_cancel(competition=competition, by=UserFactory(is_staff=True), reason="No venue")
    job = cancellation_job_run(job_id=CancellationJob.objects.get(competition=competition).pk)
    assert job.status == CancellationJob.Status.DONE

    for winner in (paid_winner, postal_winner):
        winner.refresh_from_db()
        assert winner.verification_status == Winner.Verification.REJECTED
        assert InstantWin.objects.get(pk=winner.instant_win_id).voided_at is not None
    assert "Competition cancelled: No venue" in void_audit(postal_winner).get().note


def test_a_void_win_verifies_and_a_win_voided_on_a_live_ticket_does_not(client, won):
    competition, order, void_winner = won
    standing = buy(competition, numbers=[instant_numbers(competition)[2]])
    standing_winner = Winner.objects.get(ticket__order=standing)
    order_refund(order=order)

    draw = draw_perform(
        competition=competition,
        mode=Draw.Mode.ADMIN,
        now=competition.ends_at + timedelta(minutes=1),
    )
    checks = verify_draw(draw) + verify_instant_wins(draw)
    assert all_ok(checks), [c for c in checks if not c.ok]
    assert any("void instant win's ticket was refunded" in c.name for c in checks)
    body = client.get(f"/api/draws/{competition.pk}/").json()
    void = {w["ticketNumber"]: w["void"] for w in body["instantWins"]["won"]}
    assert void == {void_winner.ticket.number: True, standing_winner.ticket.number: False}

    # Marking a win void on a ticket that stays entered is caught.
    InstantWin.objects.filter(pk=standing_winner.instant_win_id).update(
        voided_at=timezone.now(), void_reason=InstantWin.VoidReason.REFUNDED
    )
    Winner.objects.filter(pk=standing_winner.pk).update(verification_status="rejected")
    failed = [c.name for c in verify_instant_wins(draw) if not c.ok]
    assert any("void instant win's ticket was refunded" in name for name in failed), failed


def test_the_competition_page_shows_a_void_win(client, won):
    competition, order, winner = won
    order_refund(order=order)
    html = client.get(competition.get_absolute_url()).content.decode()
    assert f"Ticket #{winner.ticket.number}" in html and "void: the ticket was refunded" in html
    data = client.get(f"/api/competitions/{competition.pk}").json()
    (row,) = data["instantWins"]
    assert (row["won"], row["void"], row["left"]) == (1, 1, row["count"] - 1)
