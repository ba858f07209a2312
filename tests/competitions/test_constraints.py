"""The database's own guarantees: rows no code path may ever write."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from competitions.lifecycle import Status
from competitions.models import Competition
from draws.models import Draw
from notifications.models import Notification
from tests.factories import (
    FAKE_COMMITMENT,
    AnswerChoiceFactory,
    CompetitionFactory,
    PrizeFactory,
    TicketFactory,
    UserFactory,
)
from tickets.models import Ticket
from winners.models import Winner

pytestmark = pytest.mark.django_db


# Tickets


def test_ticket_number_is_unique_per_competition():
    competition = CompetitionFactory()
    TicketFactory(competition=competition, number=7)
    with pytest.raises(IntegrityError), transaction.atomic():
        TicketFactory(competition=competition, number=7)


def test_invalid_ticket_still_holds_its_number():
    competition = CompetitionFactory()
    TicketFactory(competition=competition, number=7, status=Ticket.Status.INVALID)
    with pytest.raises(IntegrityError), transaction.atomic():
        TicketFactory(competition=competition, number=7)


def test_same_number_in_another_competition_is_fine():
    TicketFactory(competition=CompetitionFactory(), number=7)
    TicketFactory(competition=CompetitionFactory(), number=7)
    assert Ticket.objects.filter(number=7).count() == 2


def test_refunded_ticket_number_can_be_sold_again():
    competition = CompetitionFactory()
    TicketFactory(competition=competition, number=7, status=Ticket.Status.REFUNDED)
    TicketFactory(competition=competition, number=7, status=Ticket.Status.REFUNDED)
    TicketFactory(competition=competition, number=7)
    assert competition.tickets.filter(number=7).count() == 3


def test_refunded_ticket_needs_refund_time():
    with pytest.raises(IntegrityError), transaction.atomic():
        TicketFactory(status=Ticket.Status.REFUNDED, refunded_at=None)


def test_paid_ticket_needs_an_order():
    with pytest.raises(IntegrityError), transaction.atomic():
        TicketFactory(source=Ticket.Source.PAID, order=None)


# Competitions


@pytest.mark.parametrize("price", [Decimal("0.00"), Decimal("-1.00")])
def test_ticket_price_must_be_positive(price):
    with pytest.raises(IntegrityError), transaction.atomic():
        CompetitionFactory(ticket_price=price)


def test_minimum_price_is_accepted():
    assert CompetitionFactory(ticket_price=Decimal("0.01")).pk


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(hours=-1)])
def test_competition_must_end_after_it_starts(offset):
    starts = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        CompetitionFactory(starts_at=starts, ends_at=starts + offset, draw_at=starts + offset)


def test_draw_cannot_be_before_the_end():
    competition = CompetitionFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        CompetitionFactory(ends_at=competition.ends_at, draw_at=competition.ends_at - timedelta(1))


def test_draw_may_be_at_or_after_the_end():
    ends = timezone.now() + timedelta(days=3)
    CompetitionFactory(ends_at=ends, draw_at=ends)
    CompetitionFactory(ends_at=ends, draw_at=ends + timedelta(hours=2))
    assert Competition.objects.count() == 2


def test_tickets_sold_can_never_exceed_quota():
    competition = CompetitionFactory(max_tickets=100)
    Competition.objects.filter(pk=competition.pk).update(tickets_sold=100)
    with pytest.raises(IntegrityError), transaction.atomic():
        Competition.objects.filter(pk=competition.pk).update(tickets_sold=101)
    competition.refresh_from_db()
    assert competition.tickets_sold == 100


def test_per_customer_limit_cannot_exceed_quota():
    CompetitionFactory(max_tickets=10, max_tickets_per_user=10)
    with pytest.raises(IntegrityError), transaction.atomic():
        CompetitionFactory(max_tickets=10, max_tickets_per_user=11)


def test_activated_competition_must_publish_a_commitment():
    with pytest.raises(IntegrityError), transaction.atomic():
        CompetitionFactory(status=Status.ACTIVE, seed_commitment="")
    assert CompetitionFactory(status=Status.ACTIVE, seed_commitment=FAKE_COMMITMENT).pk


def test_only_one_correct_answer_per_competition():
    competition = CompetitionFactory()
    AnswerChoiceFactory(competition=competition, is_correct=True)
    AnswerChoiceFactory(competition=competition, is_correct=False)
    AnswerChoiceFactory(competition=competition, is_correct=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        AnswerChoiceFactory(competition=competition, is_correct=True)
    # Another competition has its own correct answer.
    AnswerChoiceFactory(is_correct=True)


def test_draw_prize_positions_are_unique():
    competition = CompetitionFactory()
    PrizeFactory(competition=competition, position=1)
    PrizeFactory(competition=competition, position=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        PrizeFactory(competition=competition, position=1)


def test_instant_win_prize_has_a_count_not_a_position():
    competition = CompetitionFactory()
    PrizeFactory(competition=competition, kind="instant", position=None, quantity=20)
    with pytest.raises(IntegrityError), transaction.atomic():
        PrizeFactory(competition=competition, kind="instant", position=1, quantity=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        PrizeFactory(competition=competition, kind="instant", position=None, quantity=0)
    with pytest.raises(IntegrityError), transaction.atomic():
        PrizeFactory(competition=competition, kind="draw", position=2, quantity=3)


# Draws and winners


def _completed_draw(competition, ticket, **kw):
    fields = {
        "competition": competition,
        "mode": Draw.Mode.AUTOMATIC,
        "status": Draw.Status.COMPLETED,
        "performed_at": timezone.now(),
        "seed": "00" * 32,
        "seed_commitment": FAKE_COMMITMENT,
        "ledger_hash": "cd" * 32,
        "entry_count": 1,
        "winning_index": 0,
        "winning_ticket": ticket,
    }
    fields.update(kw)
    return Draw.objects.create(**fields)


def test_only_one_completed_draw_per_competition():
    competition = CompetitionFactory()
    ticket = TicketFactory(competition=competition, number=1)
    _completed_draw(competition, ticket)
    with pytest.raises(IntegrityError), transaction.atomic():
        _completed_draw(competition, ticket)


def test_completed_draw_names_its_winning_ticket():
    competition = CompetitionFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        _completed_draw(competition, None)


def test_manual_draw_needs_a_reason():
    competition = CompetitionFactory()
    ticket = TicketFactory(competition=competition, number=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        _completed_draw(competition, ticket, mode=Draw.Mode.MANUAL, manual_reason="")
    draw = _completed_draw(
        competition, ticket, mode=Draw.Mode.MANUAL, manual_reason="Beacon outage; witnessed."
    )
    assert draw.pk


def _winner(prize, ticket, **kw):
    return Winner.objects.create(
        competition=prize.competition,
        prize=prize,
        ticket=ticket,
        user=ticket.user,
        display_name=ticket.user.public_name,
        **kw,
    )


def test_one_winner_per_prize():
    competition = CompetitionFactory()
    prize = PrizeFactory(competition=competition, position=1)
    first = TicketFactory(competition=competition, number=1)
    second = TicketFactory(competition=competition, number=2)
    _winner(prize, first)
    with pytest.raises(IntegrityError), transaction.atomic():
        _winner(prize, second)


def test_a_ticket_wins_at_most_once_per_competition():
    competition = CompetitionFactory()
    ticket = TicketFactory(competition=competition, number=1)
    _winner(PrizeFactory(competition=competition, position=1), ticket)
    with pytest.raises(IntegrityError), transaction.atomic():
        _winner(PrizeFactory(competition=competition, position=2), ticket)


# Notifications and accounts


def test_notification_idempotency_key_is_unique():
    fields = {
        "kind": Notification.Kind.ORDER_PLACED,
        "channel": Notification.Channel.EMAIL,
        "recipient": "sam@example.com",
        "idempotency_key": "order_placed:FD-ABCDEFGH:email",
    }
    Notification.objects.create(**fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(**fields)
    assert Notification.objects.count() == 1


def test_user_email_is_unique_ignoring_case():
    UserFactory(email="Sam.Jones@Example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory(email="sam.jones@example.com")


def test_banned_user_records_when():
    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory(is_banned=True, banned_at=None)


def test_competition_with_tickets_cannot_be_deleted():
    competition = CompetitionFactory()
    TicketFactory(competition=competition, number=1)
    with pytest.raises(ProtectedError), transaction.atomic():
        competition.delete()
    assert Competition.objects.filter(pk=competition.pk).exists()
