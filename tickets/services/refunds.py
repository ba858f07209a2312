"""Money back: the refund rules, once, and every refund that follows them.

A ticket can be refunded if it was paid for (a free postal entry has no money to return), is
live (active or invalid) and its competition has not been drawn (a drawn competition is locked:
its entries are final). `refund_refusal` says so for one ticket; `refund_plan` applies it to a
staff selection without a lock (for the confirmation page) and `order_refund` applies it again
under the locks, where it counts.

`order_refund` locks the order's competitions (tickets.locking, ascending ids), then the order;
the tickets, counters, order, refund row and audit entry change in that one transaction, and
the money goes to the provider after it commits (`refund_submit`, idempotent, never raises for
a provider failure). `provider_refund_record` records a refund made in the provider's dashboard.
"""

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from competitions.lifecycle import Status
from competitions.models import Competition
from core.audit import audit_record

from .. import events, locking, payments
from ..exceptions import PaymentFailed, RefundRefused, TicketError
from ..models import Order, OrderLine, Refund, Ticket
from .rules import counters_add, order_competition_ids

logger = logging.getLogger(__name__)

REFUNDABLE_ORDER_STATES = (Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED)


def refund_refusal(*, ticket: Ticket, competition: Competition) -> str | None:
    """Why this ticket cannot be refunded (for staff to read), or None if it can.
    `competition`: the ticket's competition, as locked when it counts."""
    if ticket.order_id is None:
        return "a free postal entry"
    if ticket.status not in Ticket.SOLD_STATUSES:
        return str(ticket.status)
    if competition.status == Status.DRAWN:
        return "drawn, no more refunds"
    return None


def _refused(ticket: Ticket, competition: Competition, why: str) -> str:
    return f"#{ticket.number} in {competition}: {why}."


@dataclass(frozen=True)
class RefundPlan:
    """A selection of tickets judged by the refund rules; nothing is locked or written."""

    refundable: list[Ticket]
    refused: list[str] = field(default_factory=list)  # one line per ticket, for staff
    amount: Decimal = Decimal(0)  # what the refundable tickets were bought for


def refund_plan(*, tickets: Iterable[Ticket]) -> RefundPlan:
    """What refunding these tickets would do, for staff to confirm: `order_refund` checks the
    same rules again under the locks, so this is a preview, not a promise."""
    refundable, refused = [], []
    for ticket in tickets:
        why = refund_refusal(ticket=ticket, competition=ticket.competition)
        if why is None:
            refundable.append(ticket)
        else:
            refused.append(_refused(ticket, ticket.competition, why))
    prices = {
        (line.order_id, line.competition_id): line.unit_price
        for line in OrderLine.objects.filter(order_id__in={t.order_id for t in refundable})
    }
    amount = sum((prices.get((t.order_id, t.competition_id), 0) for t in refundable), Decimal(0))
    return RefundPlan(refundable=refundable, refused=refused, amount=amount)


@dataclass
class TicketsRefunded:
    """What `tickets_refund` did: the refunds made and, for staff, what was not refunded."""

    refunds: list[Refund] = field(default_factory=list)
    tickets: int = 0
    refused: list[str] = field(default_factory=list)


def tickets_refund(*, tickets: Iterable[Ticket], by, note: str = "", now=None) -> TicketsRefunded:
    """Refund a staff selection of tickets, order by order: each order in its own transaction
    (`order_refund`), so one order refused does not hold back the others. Tickets the rules
    refuse are listed, not refunded."""
    plan = refund_plan(tickets=tickets)
    result = TicketsRefunded(refused=list(plan.refused))
    by_order = defaultdict(list)
    for ticket in plan.refundable:
        by_order[ticket.order_id].append(ticket)
    orders = Order.objects.in_bulk(list(by_order))
    for order_id, chosen in by_order.items():
        order = orders[order_id]
        try:
            refund = order_refund(order=order, tickets=chosen, by=by, note=note, now=now)
        except TicketError as refusal:
            result.refused.append(f"{order}: {refusal}")
        else:
            result.refunds.append(refund)
            result.tickets += len(chosen)
    return result


def order_refund(
    *,
    order: Order,
    tickets: Sequence[Ticket] | None = None,
    reason: str = Refund.Reason.REQUESTED,
    note: str = "",
    by=None,
    submit: bool = True,
    now=None,
) -> Refund:
    """Refund a paid order's tickets (all live ones, or those given) at their price paid.

    The tickets become `refunded` and their numbers return to sale, in one locked transaction
    with its audit entry; the money goes back through the payment gateway after it commits
    (unless `submit` is False: the provider has already returned it). Refused, as a whole,
    if any ticket breaks the refund rules (`refund_refusal`), e.g. once its competition is
    drawn."""
    now = now or timezone.now()
    ticket_ids = None if tickets is None else {t.pk for t in tickets}
    with transaction.atomic():
        locked = locking.lock_competitions(order_competition_ids(order.pk))
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status not in REFUNDABLE_ORDER_STATES:
            raise RefundRefused(f"Only a paid order can be refunded; {order} is {order.status}.")
        before = {"status": order.status, "amount_refunded": order.amount_refunded}
        if ticket_ids is None:
            chosen = list(Ticket.objects.filter(order=order, status__in=Ticket.SOLD_STATUSES))
            if not chosen:
                raise RefundRefused(f"{order} has no tickets left to refund.")
        else:
            chosen = list(Ticket.objects.filter(order=order, pk__in=ticket_ids))
            if len(chosen) != len(ticket_ids):
                raise RefundRefused("Some of those tickets are not tickets of this order.")
        refused = defaultdict(list)
        for ticket in chosen:
            competition = locked[ticket.competition_id]
            why = refund_refusal(ticket=ticket, competition=competition)
            if why:
                refused[(competition.title, why)].append(f"#{ticket.number}")
        if refused:
            raise RefundRefused(
                " ".join(
                    f"“{title}”: {why} ({', '.join(ns)})." for (title, why), ns in refused.items()
                )
            )
        prices = dict(order.lines.values_list("competition_id", "unit_price"))
        amount = sum((prices[t.competition_id] for t in chosen), Decimal("0"))
        Ticket.objects.filter(pk__in=[t.pk for t in chosen]).update(
            status=Ticket.Status.REFUNDED, refunded_at=now
        )
        for competition_id, count in Counter(t.competition_id for t in chosen).items():
            counters_add(competition_id, sold=-count, now=now)
        remaining = Ticket.objects.filter(order=order, status__in=Ticket.SOLD_STATUSES).exists()
        order.status = Order.Status.PARTIALLY_REFUNDED if remaining else Order.Status.REFUNDED
        order.amount_refunded = min(order.total, order.amount_refunded + amount)
        order.save(update_fields=["status", "amount_refunded", "updated_at"])
        refund = Refund.objects.create(
            order=order,
            amount=amount,
            currency=order.currency,
            reason=reason,
            note=note[:255],
            created_by=by if getattr(by, "pk", None) else None,
        )
        refund.tickets.set(chosen)
        audit_record(
            actor=by,
            action="order.refund",
            obj=order,
            before=before,
            after={
                "status": order.status,
                "amount_refunded": order.amount_refunded,
                "refund_id": refund.pk,
                "amount": amount,
                "tickets": sorted(t.number for t in chosen),
            },
            note=note,
        )
        events.refund_created(refund)
        if submit:
            transaction.on_commit(lambda: refund_submit(refund_id=refund.pk))
    refund.refresh_from_db()
    return refund


def provider_refund_record(*, order: Order, amount_refunded: Decimal, whole: bool, now) -> str:
    """A refund the provider reports for this order (`amount_refunded` in all; `whole`: the
    payment was returned in full). Ours are already on record. One made in the provider's
    dashboard is recorded: if it returned everything, the tickets are refunded too; if only
    part, the money is recorded and the tickets are left as they are. Returns what happened."""
    ours = sum((r.amount for r in order.refunds.exclude(status=Refund.Status.FAILED)), Decimal("0"))
    if amount_refunded <= ours:
        return "refund already recorded"
    if whole and order.status in REFUNDABLE_ORDER_STATES:
        try:
            with transaction.atomic():
                refund = order_refund(
                    order=order,
                    reason=Refund.Reason.PROVIDER,
                    note="Refunded in the payment provider's dashboard.",
                    submit=False,
                    now=now,
                )
                # The provider has already paid it out: nothing to submit.
                Refund.objects.filter(pk=refund.pk).update(
                    status=Refund.Status.SUCCEEDED, completed_at=now
                )
        except RefundRefused as exc:
            logger.error("Order %s refunded at the provider but not here: %s", order, exc)
        else:
            return "refunded at the provider; tickets refunded"
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        before = {"amount_refunded": order.amount_refunded}
        extra = amount_refunded - ours
        refund = Refund.objects.create(
            order=order,
            amount=extra,
            currency=order.currency,
            reason=Refund.Reason.PROVIDER,
            note="Partly refunded in the payment provider's dashboard; tickets untouched.",
            status=Refund.Status.SUCCEEDED,
            completed_at=now,
        )
        order.amount_refunded = min(order.total, order.amount_refunded + extra)
        order.save(update_fields=["amount_refunded", "updated_at"])
        audit_record(
            actor=None,
            action="order.refund",
            obj=order,
            before=before,
            after={
                "amount_refunded": order.amount_refunded,
                "refund_id": refund.pk,
                "amount": extra,
            },
            note=refund.note,
        )
    return "partial refund at the provider recorded"


def refund_submit(*, refund_id: int, now=None) -> Refund:
    """Send a pending refund to the payment gateway (idempotent: the provider sees the same
    idempotency key however often this runs). Never raises for a provider failure: the refund
    is marked failed with the reason, for staff to retry."""
    refund = Refund.objects.select_related("order").get(pk=refund_id)
    if refund.status != Refund.Status.PENDING:
        return refund
    try:
        result = payments.get_gateway().refund(
            payment_intent_id=refund.order.stripe_payment_intent_id,
            amount_pence=payments.to_pence(refund.amount),
            idempotency_key=f"fairdraw-refund-{refund.pk}",
            metadata={"order_id": str(refund.order_id), "refund_id": str(refund.pk)},
        )
    except PaymentFailed as exc:
        logger.error("Refund %s of order %s failed: %s", refund.pk, refund.order, exc)
        Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING).update(
            status=Refund.Status.FAILED, failure_message=str(exc)[:500]
        )
    else:
        Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING).update(
            status=Refund.Status.SUCCEEDED,
            provider_refund_id=result.id,
            completed_at=now or timezone.now(),
        )
    refund.refresh_from_db()
    return refund


def refund_retry(*, refund: Refund, by=None) -> Refund:
    """Send a failed refund again (same idempotency key, so never paid out twice) and record
    the attempt and its result in the audit log."""
    claimed = Refund.objects.filter(pk=refund.pk, status=Refund.Status.FAILED).update(
        status=Refund.Status.PENDING, failure_message=""
    )
    if not claimed:
        return refund_submit(refund_id=refund.pk)  # still pending: send it, nothing to record
    # The gateway call runs outside any transaction (it waits on the provider); the audit
    # entry, one insert of its own, records its result.
    result = refund_submit(refund_id=refund.pk)
    audit_record(
        actor=by,
        action="refund.retry",
        obj=result,
        before={"status": Refund.Status.FAILED},
        after={"status": result.status, "failure_message": result.failure_message},
    )
    return result
