"""Refunding a ticket whose instant prize already went out (docs/architecture.md §4, item 6):
the refund goes ahead (it is the customer's money) and voids the win, but staff are told per
number first, on the ticket refund and the cancel-and-refund confirmations, and the refund's
audit entry and row say so, since someone has to recover the prize."""

from datetime import UTC, datetime

import pytest

from competitions.models import InstantWin
from core.models import AuditEntry
from tests.backoffice.conftest import messages_of, post_action
from tests.factories import (
    UserFactory,
    correct_answer,
    instant_numbers,
    instant_win_competition,
)
from tickets.models import CancellationJob, Refund, Ticket
from tickets.services import order_record_paid, order_refund, refund_plan
from winners.models import Winner
from winners.services import winner_approve, winner_mark_delivered

pytestmark = pytest.mark.django_db

DELIVERED_ON = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)


def buy(competition, *, numbers, user=None):
    return order_record_paid(
        user=user or UserFactory(),
        competition=competition,
        answer=correct_answer(competition),
        numbers=numbers,
    )


def deliver(winner):
    staff = UserFactory(is_staff=True)
    winner_approve(winner=winner, by=staff)
    return winner_mark_delivered(winner=winner, by=staff, now=DELIVERED_ON)


@pytest.fixture
def competition():
    return instant_win_competition(
        title="Win a Porsche 911", instant=(("Apple Watch", "99.00", 3), ("£10 cash", "10.00", 3))
    )


@pytest.fixture
def delivered(competition):
    """Jane Smith's order holds an Apple Watch instant win whose prize was delivered on 3 Nov,
    and a losing ticket."""
    number = competition.instant_wins.filter(prize__title="Apple Watch").first().number
    other = next(n for n in range(1, 100) if n not in instant_numbers(competition))
    jane = UserFactory(first_name="Jane", last_name="Smith")
    order = buy(competition, numbers=[number, other], user=jane)
    winner = deliver(Winner.objects.get(ticket__number=number, competition=competition))
    return order, winner


def warning_for(winner) -> str:
    return (
        f"Ticket #{winner.ticket.number}'s instant prize (Apple Watch) in Win a Porsche 911 was "
        "already delivered to Jane S. on 3 Nov 2026: refunding voids the win, recover the "
        "prize separately."
    )


def test_the_refund_confirmation_names_the_delivered_prize_and_writes_nothing(
    admin_client, delivered
):
    order, winner = delivered
    tickets = list(order.tickets.all())
    page = post_action(admin_client, "tickets.ticket", "refund", tickets).content.decode()

    assert "Instant win: " + warning_for(winner).replace("'", "&#x27;") in page
    # Only asked: nothing refunded, the win stands, nothing in the audit log.
    assert not Refund.objects.exists()
    assert set(order.tickets.values_list("status", flat=True)) == {Ticket.Status.ACTIVE}
    assert InstantWin.objects.get(pk=winner.instant_win_id).voided_at is None
    assert not AuditEntry.objects.filter(action__in=["order.refund", "winner.void"]).exists()


def test_an_undelivered_win_gets_the_plain_warning(competition):
    number = instant_numbers(competition)[-1]
    order = buy(competition, numbers=[number])
    (line,) = refund_plan(tickets=order.tickets.select_related("competition")).instant_wins
    assert f"#{number}" in line and "voids the win" in line and "delivered" not in line


def test_refunding_still_works_and_the_records_say_the_prize_went_out(admin_client, delivered):
    order, winner = delivered
    tickets = list(order.tickets.all())
    done = post_action(
        admin_client, "tickets.ticket", "refund", tickets, confirmed="yes", reason="Chargeback"
    )

    assert warning_for(winner) in messages_of(done)
    refund = Refund.objects.get(order=order)
    assert refund.amount > 0 and set(refund.tickets.values_list("status", flat=True)) == {
        Ticket.Status.REFUNDED
    }
    assert refund.note == (
        f"Chargeback Instant prize already delivered, recover: #{winner.ticket.number} "
        "(Apple Watch)."
    )
    entry = AuditEntry.objects.get(action="order.refund", object_id=str(order.pk))
    assert entry.after["instant_prizes_delivered"] == [winner.ticket.number]
    assert entry.note == "Chargeback\n" + warning_for(winner)
    winner.refresh_from_db()
    assert winner.verification_status == Winner.Verification.REJECTED
    void = AuditEntry.objects.get(action="winner.void", object_id=str(winner.pk))
    assert "already been delivered to Jane S. on 3 Nov 2026: recover it separately" in void.note
    instant = InstantWin.objects.get(pk=winner.instant_win_id)
    assert instant.void_reason == InstantWin.VoidReason.REFUNDED


def test_a_refund_without_a_delivered_prize_records_no_such_note(delivered):
    order, winner = delivered
    other = order.tickets.exclude(pk=winner.ticket_id).get()
    refund = order_refund(order=order, tickets=[other], note="Asked")
    assert refund.note == "Asked"
    entry = AuditEntry.objects.get(action="order.refund", object_id=str(order.pk))
    assert "instant_prizes_delivered" not in entry.after and entry.note == "Asked"


def test_the_cancel_and_refund_confirmation_lists_each_delivered_prize(
    admin_client, competition, delivered
):
    _order, jane_win = delivered
    watch = competition.instant_wins.filter(prize__title="Apple Watch")[1].number
    cash = competition.instant_wins.filter(prize__title="£10 cash").first().number
    tom = UserFactory(first_name="Tom", last_name="Hale")
    buy(competition, numbers=[watch], user=tom)
    deliver(Winner.objects.get(ticket__number=watch, competition=competition))
    buy(competition, numbers=[cash])  # won, not delivered: counted, not listed

    page = post_action(
        admin_client, "competitions.competition", "cancel_and_refund", [competition]
    ).content.decode()

    assert "3 instant win(s) already won will be void" in page
    assert warning_for(jane_win).replace("'", "&#x27;") in page
    assert (
        f"Ticket #{watch}&#x27;s instant prize (Apple Watch) in Win a Porsche 911 was already "
        "delivered to Tom H. on 3 Nov 2026" in page
    )
    assert f"Ticket #{cash}&#x27;s" not in page
    competition.refresh_from_db()
    assert competition.status == "active" and not CancellationJob.objects.exists()
