"""Rows the notification tests need: a paid order with numbered tickets, a drawn winner."""

from decimal import Decimal

from django.utils import timezone

from notifications.models import Notification
from tests.factories import (
    PrizeFactory,
    TicketFactory,
    UserFactory,
    correct_answer,
    draft_ready_to_activate,
    wrong_answer,
)
from tickets.models import Order, OrderLine, Ticket
from winners.models import Winner


def customer(*, consent=True, phone="07700 900123", **kw):
    return UserFactory(
        email=kw.pop("email", "sarah.khan@example.com"),
        first_name="Sarah",
        last_name="Khan",
        phone=phone,
        marketing_consent=consent,
        marketing_consent_at=timezone.now() if consent else None,
        **kw,
    )


def competition(**kw):
    return draft_ready_to_activate(
        **{"ticket_price": Decimal("2.50"), "prize_value": Decimal("45000.00"), **kw}
    )


def paid_order(user, *lines, status=Order.Status.PAID):
    """`lines` are (competition, numbers, answered_correctly) triples."""
    now = timezone.now()
    order = Order.objects.create(user=user, status=status, paid_at=now, total=0)
    total = Decimal("0")
    for comp, numbers, correct in lines:
        line_total = comp.ticket_price * len(numbers)
        total += line_total
        OrderLine.objects.create(
            order=order,
            competition=comp,
            quantity=len(numbers),
            answer=correct_answer(comp) if correct else wrong_answer(comp),
            unit_price=comp.ticket_price,
            line_total=line_total,
        )
        for number in numbers:
            TicketFactory(
                competition=comp,
                number=number,
                user=user,
                order=order,
                source=Ticket.Source.PAID,
                status=Ticket.Status.ACTIVE if correct else Ticket.Status.INVALID,
            )
    order.total = total
    order.save(update_fields=["total"])
    return order


def winner(user, *, delivered=False):
    comp = competition(title="Win a Tesla Model 3", slug="win-a-tesla-model-3")
    ticket = TicketFactory(competition=comp, number=42, user=user)
    prize = comp.prizes.first() or PrizeFactory(competition=comp)
    prize.title = "Tesla Model 3"
    prize.value = Decimal("40000.00")
    prize.save()
    now = timezone.now()
    return Winner.objects.create(
        competition=comp,
        prize=prize,
        ticket=ticket,
        user=user,
        display_name=user.public_name,
        announced_at=now,
        prize_delivered_at=now if delivered else None,
    )


def outbox(**filters):
    return list(Notification.objects.filter(**filters).order_by("pk"))
