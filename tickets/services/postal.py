"""Free postal entries: the same sale rules and limits as a purchase, the same chance, no order.

`postal_entry_add` locks the customer's row, as every path that gives a customer numbers does
(tickets.services says why), and writes the tickets and its audit entry, then claims the
competition's counters last (as a checkout does), in one transaction. A drawn competition takes
no more entries.
"""

from django.db import transaction
from django.utils import timezone

from competitions.models import Competition
from core.audit import audit_record

from ..instant_wins import instant_wins_award
from ..models import Ticket
from .rules import Line, check_eligible, check_line, lock_customer, sale_claim, tickets_insert


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
        fresh = Competition.objects.get(pk=competition.pk)
        line = Line(fresh, answer=None, quantity=quantity)
        check_line(competition=fresh, user=user, line=line, now=now)
        tickets = tickets_insert(
            [line],
            user=user,
            order=None,
            status=Ticket.Status.ACTIVE,
            source=Ticket.Source.POSTAL,
            now=now,
        )
        audit_record(
            actor=by,
            action="ticket.postal_entry",
            obj=fresh,
            after={"user": user.email, "numbers": sorted(t.number for t in tickets)},
            note=note,
        )
        instant_wins_award(competitions=[fresh], ticket_ids=[t.pk for t in tickets], now=now)
        sale_claim(fresh, sold=len(tickets), now=now)
    return tickets
