"""Cancelling a competition and refunding everyone in it (DESIGN §2).

It lives with the refunds, not with the competition: cancelling is mostly giving money and
numbers back, and tickets is above competitions in the layers (config/layers.py), so the
ticket services may change the competition, never the reverse. The competition's own rule
("a final competition is never cancelled again") is `Competition.is_final`.
"""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from competitions.exceptions import CompetitionError
from competitions.lifecycle import Status
from competitions.models import Competition
from core.audit import audit_record, audit_snapshot

from .models import Order, Refund, Ticket
from .services import order_refund, order_release


@transaction.atomic
def competition_cancel(*, competition: Competition, by, reason: str, now=None) -> Competition:
    """Cancel a competition before its draw and refund every paid ticket in it; checkouts in
    progress give their numbers back. One transaction: all refunded and cancelled, or nothing.
    The refunds go to the payment provider after commit (tickets.services.order_refund)."""
    now = now or timezone.now()
    if not (reason or "").strip():
        raise CompetitionError("Say why the competition is cancelled.")
    competition = Competition.objects.select_for_update().get(pk=competition.pk)
    if competition.is_final:
        raise CompetitionError(f"“{competition}” is already {competition.status}.")
    before = audit_snapshot(competition, ("status", "tickets_sold"))
    pending = Order.objects.filter(
        status=Order.Status.PENDING, lines__competition=competition
    ).values_list("pk", flat=True)
    for order_id in list(pending):
        order_release(order_id=order_id, reason=Order.Status.CANCELLED, only_if_lapsed=False)
    live = Ticket.objects.filter(
        competition=competition, status__in=Ticket.SOLD_STATUSES, order__isnull=False
    )
    orders = Order.objects.filter(pk__in=live.values("order_id")).order_by("pk")
    refunds = 0
    for order in orders.iterator(chunk_size=500):
        order_refund(
            order=order,
            tickets=list(live.filter(order=order)),
            reason=Refund.Reason.COMPETITION_CANCELLED,
            note=reason,
            by=by,
            now=now,
        )
        refunds += 1
    # Free postal entries have no money to return; they are voided the same way.
    voided = Ticket.objects.filter(
        competition=competition, status__in=Ticket.SOLD_STATUSES, order__isnull=True
    ).update(status=Ticket.Status.REFUNDED, refunded_at=now)
    Competition.objects.filter(pk=competition.pk).update(
        status=Status.CANCELLED,
        cancelled_at=now,
        is_featured=False,
        tickets_sold=F("tickets_sold") - voided,
        updated_at=now,
    )
    competition.refresh_from_db()
    audit_record(
        actor=by,
        action="competition.cancel",
        obj=competition,
        before=before,
        after=audit_snapshot(competition, ("status", "cancelled_at", "tickets_sold")),
        note=f"{reason} ({refunds} orders refunded)",
    )
    return competition
