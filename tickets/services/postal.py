"""Free postal entries: the same sale rules and limits as a purchase, the same chance, no order.

`postal_entry_add` locks the customer's row, then the competition (tickets.locking), as every
path that gives a customer numbers does (tickets.services says why), and writes the tickets,
the counter and its audit entry in one transaction. A drawn competition takes no more entries.
"""

from django.db import transaction
from django.utils import timezone

from competitions.models import Competition
from core.audit import audit_record

from .. import locking
from ..models import Ticket
from .rules import (
    Line,
    allocate,
    check_eligible,
    check_line,
    counters_add,
    lock_customer,
    new_tickets,
)


def postal_entry_add(
    *, user, competition: Competition, quantity: int = 1, by=None, note: str = "", now=None
) -> list[Ticket]:
    """Free postal entries for a customer. `by`: the member of staff who typed them in;
    `note`: what they wrote down (e.g. the date the postcard arrived), for the audit log."""
    now = now or timezone.now()
    check_eligible(user)
    if quantity < 1:
        raise ValueError("quantity must be positive")
    with transaction.atomic():
        # The customer's row first, as every path that gives a customer numbers.
        user = lock_customer(user.pk)
        locked = locking.lock_competitions([competition.pk])[competition.pk]
        line = Line(locked, answer=None, quantity=quantity)
        check_line(competition=locked, user=user, line=line, now=now)
        numbers = allocate(competition=locked, line=line)
        tickets = Ticket.objects.bulk_create(
            new_tickets(
                competition=locked,
                user=user,
                order=None,
                numbers=numbers,
                status=Ticket.Status.ACTIVE,
                source=Ticket.Source.POSTAL,
                now=now,
            )
        )
        counters_add(locked.pk, sold=len(numbers), now=now)
        audit_record(
            actor=by,
            action="ticket.postal_entry",
            obj=locked,
            after={"user": user.email, "numbers": sorted(numbers)},
            note=note,
        )
    return tickets
