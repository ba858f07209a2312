"""Free postal entries: the same sale rules and limits as a purchase, the same chance, no order.

`postal_entry_add` locks the customer's row, as every path that gives a customer numbers does
(tickets.services says why), and writes the tickets and its audit entry, then claims the
competition's counters last (as a checkout does), in one transaction. A drawn competition takes
no more entries. Each entry gets its signed receipt (tickets.services.receipts) in the same
transaction, before the counters' claim.
"""

from datetime import date

from django.db import transaction
from django.utils import timezone

from competitions.models import Competition
from core.audit import audit_record

from ..instant_wins import instant_wins_award
from ..models import PostalEntry, Ticket
from .receipts import receipt_issue_postal
from .rules import Line, check_eligible, check_line, lock_customer, sale_claim, tickets_insert


def postal_entry_add(
    *,
    user,
    competition: Competition,
    quantity: int = 1,
    by=None,
    note: str = "",
    received_on: date | None = None,
    now=None,
) -> list[Ticket]:
    """Free postal entries for a customer. `by`: the member of staff who typed them in;
    `note`: what they wrote down, for the audit log; `received_on`: the day the postcard
    arrived (default: today), recorded with the entry (PostalEntry) so the operator can show
    how long postal entries take to be entered."""
    now = now or timezone.now()
    check_eligible(user)
    if quantity < 1:
        raise ValueError("quantity must be positive")
    received_on = received_on or timezone.localdate(now)
    if received_on > timezone.localdate(now):
        raise ValueError("a postcard cannot arrive after it is entered")
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
        numbers = sorted(t.number for t in tickets)
        # Signed before the competition's row is taken (the counters' claim comes last).
        receipt = receipt_issue_postal(user=user, competition=fresh, numbers=numbers, now=now)
        PostalEntry.objects.create(
            competition=fresh,
            user=user,
            quantity=len(tickets),
            numbers=numbers,
            received_on=received_on,
            recorded_at=now,
            recorded_by=by if getattr(by, "pk", None) else None,
            note=note[:255],
        )
        audit_record(
            actor=by,
            action="ticket.postal_entry",
            obj=fresh,
            after={
                "user": user.email,
                "numbers": numbers,
                "received_on": received_on,
                "receipt": receipt.reference,
            },
            note=note,
        )
        instant_wins_award(competitions=[fresh], ticket_ids=[t.pk for t in tickets], now=now)
        sale_claim(fresh, sold=len(tickets), now=now)
    return tickets
