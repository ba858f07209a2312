"""Turning a customer's purchase into numbered tickets, never beyond the quota."""

from collections.abc import Sequence

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from competitions.lifecycle import Status
from competitions.models import AnswerChoice, Competition

from . import allocation
from .exceptions import AnswerRequired, LimitReached, NotEligible, NumberTaken, SalesClosed, SoldOut
from .models import Order, OrderLine, Ticket


def _lock_competition(competition_id: int) -> Competition:
    return Competition.objects.select_for_update().get(pk=competition_id)


def _check_eligible(user) -> None:
    if not user.can_purchase:
        raise NotEligible("Only adults (18+) with an account in good standing can enter.")


def _check_can_sell(
    *, competition: Competition, user, quantity: int, numbers: Sequence[int], now
) -> None:
    if competition.live_status(now) != Status.ACTIVE:
        raise SalesClosed(f"Entries for “{competition.title}” are closed.")
    if quantity < 1:
        raise ValueError("quantity must be positive")
    if numbers and len(set(numbers)) != len(numbers):
        raise NumberTaken([n for n in set(numbers) if list(numbers).count(n) > 1])
    if any(n < 1 or n > competition.max_tickets for n in numbers):
        raise NumberTaken([n for n in numbers if n < 1 or n > competition.max_tickets])
    if quantity > competition.tickets_left:
        raise SoldOut(
            f"Only {competition.tickets_left} tickets left for “{competition.title}”."
            if competition.tickets_left
            else f"“{competition.title}” is sold out."
        )
    held = Ticket.objects.filter(
        competition=competition, user=user, status__in=allocation.LIVE_STATUSES
    ).aggregate(n=Count("id"))["n"]
    if held + quantity > competition.max_tickets_per_user:
        raise LimitReached(
            f"You can hold at most {competition.max_tickets_per_user} tickets for "
            f"“{competition.title}”; you have {held}."
        )


def _issue(*, competition: Competition, user, order, numbers, status, source, now) -> list[Ticket]:
    tickets = Ticket.objects.bulk_create(
        [
            Ticket(
                competition=competition,
                number=n,
                user=user,
                order=order,
                status=status,
                source=source,
                purchased_at=now,
            )
            for n in numbers
        ]
    )
    competition.tickets_sold += len(numbers)
    competition.save(update_fields=["tickets_sold", "updated_at"])
    return tickets


def _numbers_for(*, competition: Competition, quantity: int, numbers: Sequence[int]) -> list[int]:
    if numbers:
        taken = allocation.taken_among(competition.pk, numbers)
        if taken:
            raise NumberTaken(taken)
        return sorted(numbers)
    return allocation.lucky_dip(
        competition_id=competition.pk,
        max_number=competition.max_tickets,
        free_count=competition.tickets_left,
        quantity=quantity,
    )


@transaction.atomic
def order_record_paid(
    *,
    user,
    competition: Competition,
    answer: AnswerChoice | None,
    quantity: int | None = None,
    numbers: Sequence[int] = (),
    payment_reference: str = "",
    now=None,
) -> Order:
    """Record a one-line order paid outside Stripe Checkout and issue its tickets.

    A wrong answer still buys tickets, marked invalid (they never enter the draw)."""
    now = now or timezone.now()
    numbers = list(numbers)
    quantity = len(numbers) if numbers else quantity or 0
    if answer is None or answer.competition_id != competition.pk:
        raise AnswerRequired("Please answer the skill question.")
    _check_eligible(user)
    competition = _lock_competition(competition.pk)
    _check_can_sell(competition=competition, user=user, quantity=quantity, numbers=numbers, now=now)
    chosen = _numbers_for(competition=competition, quantity=quantity, numbers=numbers)
    line_total = competition.ticket_price * quantity
    order = Order.objects.create(
        user=user,
        status=Order.Status.PAID,
        total=line_total,
        paid_at=now,
        stripe_payment_intent_id=payment_reference,
    )
    OrderLine.objects.create(
        order=order,
        competition=competition,
        quantity=quantity,
        chosen_numbers=numbers,
        answer=answer,
        unit_price=competition.ticket_price,
        line_total=line_total,
    )
    status = Ticket.Status.ACTIVE if answer.is_correct else Ticket.Status.INVALID
    _issue(
        competition=competition,
        user=user,
        order=order,
        numbers=chosen,
        status=status,
        source=Ticket.Source.PAID,
        now=now,
    )
    return order


@transaction.atomic
def postal_entry_add(
    *, user, competition: Competition, quantity: int = 1, now=None
) -> list[Ticket]:
    """Free postal entries: same limits, same chance, no order."""
    now = now or timezone.now()
    _check_eligible(user)
    competition = _lock_competition(competition.pk)
    _check_can_sell(competition=competition, user=user, quantity=quantity, numbers=(), now=now)
    chosen = _numbers_for(competition=competition, quantity=quantity, numbers=())
    return _issue(
        competition=competition,
        user=user,
        order=None,
        numbers=chosen,
        status=Ticket.Status.ACTIVE,
        source=Ticket.Source.POSTAL,
        now=now,
    )
