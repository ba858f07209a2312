"""Money back: the refund rules, once, and every refund that follows them.

A ticket can be refunded if it was paid for (a free postal entry has no money to return), is
live (active or invalid) and its competition has not been drawn (a drawn competition is locked:
its entries are final). `refund_refusal` says so for one ticket; `refund_plan` applies it to a
staff selection without a lock (for the confirmation page) and `order_refund` applies it again
under the locks, where it counts.

`order_refund` locks the order's competitions (tickets.locking, ascending ids), then the order;
the tickets, counters, order, refund row and audit entry change in that one transaction, and
the money goes to the provider after it commits. `provider_refund_record` records a refund
made in the provider's dashboard.

The refund rows are an outbox, as notifications are (notifications.services): whoever decides
on a refund writes the row (pending) in their own transaction and calls `refund_queue`, which
queues `tickets.tasks.submit_refund` once that transaction commits. With the broker down the
row simply stays pending. Then:

- `refund_submit` claims the row with a compare-and-set (pending -> submitting), so exactly one
  worker sends it however many tasks were queued, and calls the provider outside any
  transaction with the row's idempotency key (`Refund.idempotency_key`): a second send of the
  same refund, after a crash or a lost answer, gets the provider's first refund back;
- the provider's refund id and the success are recorded; a transient failure (network, 5xx,
  rate limit) puts the row back to pending with an exponential back-off; a permanent one, or
  the last attempt, marks it failed and alerts the operators (notifications.outbox);
- `refund_sweep` (beat, every minute) queues what is due: rows whose back-off has run out and
  rows the on-commit queueing never got to the broker, and takes back claims of workers that
  died mid-send (sent again with the same key, so still paid out once);
- `refund_retry` is staff's "send it again" for a failed refund.
"""

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from functools import partial

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from competitions.lifecycle import Status
from competitions.models import Competition
from core.audit import audit_record
from notifications.outbox import admin_alert

from .. import events, locking, payments, pricing
from ..exceptions import PaymentFailed, ProviderUnavailable, RefundRefused, TicketError
from ..instant_wins import (
    instant_prizes_delivered,
    instant_wins_held,
    instant_wins_refunded,
    prize_delivered_warning,
)
from ..models import Order, OrderLine, Refund, Ticket
from .rules import counters_add, order_competition_ids

logger = logging.getLogger(__name__)

# Sending: attempt n waits RETRY_BASE * 2**n (capped at RETRY_MAX); after MAX_ATTEMPTS the
# refund fails and the operators are told. The sweeper runs every minute, so the first retries
# come within a minute or two and the last about two hours after the first try.
REFUND_MAX_ATTEMPTS = 8
REFUND_RETRY_BASE = timedelta(seconds=30)
REFUND_RETRY_MAX = timedelta(hours=1)
# A pending refund the on-commit queueing should have sent but which is still untouched after
# this long (the broker was down at commit) is queued by the sweeper.
DISPATCH_GRACE = timedelta(minutes=2)
# After queueing a refund the sweeper leaves it alone this long, so a slow queue is not flooded.
REQUEUE_AFTER = timedelta(minutes=5)
# A claim older than this means the worker died while sending.
SUBMITTING_TIMEOUT = timedelta(minutes=10)
SWEEP_BATCH = 500

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
    instant_wins: list[str] = field(default_factory=list)  # wins a refund would void, for staff
    # Of those, the ones whose prize already went out, by ticket id (staff recover it).
    prizes_delivered: dict[int, str] = field(default_factory=dict)


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
    amount = sum(
        (_refund_amount(order_id, tickets) for order_id, tickets in _by_order(refundable).items()),
        Decimal(0),
    )
    held = instant_wins_held(refundable)
    delivered = instant_prizes_delivered(held.values())
    instant_wins, prizes_delivered = [], {}
    for ticket in refundable:
        if (win := held.get(ticket.pk)) is None:
            continue
        if win.pk in delivered:
            prizes_delivered[ticket.pk] = prize_delivered_warning(
                ticket_number=ticket.number,
                prize_title=win.prize.title,
                competition=ticket.competition,
                delivered=delivered[win.pk],
            )
            instant_wins.append(prizes_delivered[ticket.pk])
        else:
            instant_wins.append(
                f"#{ticket.number} in {ticket.competition} won the instant prize "
                f"{win.prize.title}: refunding it voids the win, and the prize is not awarded "
                "again."
            )
    return RefundPlan(
        refundable=refundable,
        refused=refused,
        amount=amount,
        instant_wins=instant_wins,
        prizes_delivered=prizes_delivered,
    )


def _by_order(tickets) -> dict[int, list[Ticket]]:
    grouped = defaultdict(list)
    for ticket in tickets:
        grouped[ticket.order_id].append(ticket)
    return grouped


def _refund_amount(order_id: int, tickets: Sequence[Ticket]) -> Decimal:
    """What these tickets of one order were bought for: each line's price paid (after bundles
    and discount code) shared evenly between its tickets, in pence (pricing.refund_share)."""
    lines = {line.competition_id: line for line in OrderLine.objects.filter(order_id=order_id)}
    refunded = Counter(
        Ticket.objects.filter(order_id=order_id, status=Ticket.Status.REFUNDED).values_list(
            "competition_id", flat=True
        )
    )
    amount = Decimal(0)
    for competition_id, count in Counter(t.competition_id for t in tickets).items():
        line = lines[competition_id]
        amount += pricing.refund_share(
            paid=line.line_total,
            quantity=line.quantity,
            refunded_before=refunded[competition_id],
            count=count,
        )
    return amount


@dataclass
class TicketsRefunded:
    """What `tickets_refund` did: the refunds made and, for staff, what was not refunded."""

    refunds: list[Refund] = field(default_factory=list)
    tickets: int = 0
    refused: list[str] = field(default_factory=list)
    # Refunded tickets whose instant prize had already gone out: someone has to recover it.
    prizes_delivered: list[str] = field(default_factory=list)


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
            result.prizes_delivered += [
                plan.prizes_delivered[t.pk] for t in chosen if t.pk in plan.prizes_delivered
            ]
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

    The tickets become `refunded` and their numbers return to sale, and an instant win any of
    them won is void (the winners app records it and tells the customer), in one locked
    transaction with its audit entry; the money goes back through the payment gateway after it commits
    (unless `submit` is False: the provider has already returned it). Refused, as a whole,
    if any ticket breaks the refund rules (`refund_refusal`), e.g. once its competition is
    drawn."""
    now = now or timezone.now()
    ticket_ids = None if tickets is None else {t.pk for t in tickets}
    with transaction.atomic():
        # The order before its competitions, as a payment takes them (tickets.services).
        order = Order.objects.select_for_update().get(pk=order.pk)
        locked = locking.lock_competitions(order_competition_ids(order.pk))
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
        amount = _refund_amount(order.pk, chosen)
        if amount <= 0:  # offers took their whole price off (tickets.pricing)
            raise RefundRefused(
                "Nothing was paid for these tickets after the order's offers: refund them "
                "together with others from the same order."
            )
        Ticket.objects.filter(pk__in=[t.pk for t in chosen]).update(
            status=Ticket.Status.REFUNDED, refunded_at=now
        )
        # An instant win on a refunded ticket is void, in this transaction (the winners app
        # answers the hook; docs/architecture.md §4, item 6).
        voided = instant_wins_refunded(
            tickets=chosen,
            competitions=locked.values(),
            reason=f"Ticket refunded: {dict(Refund.Reason.choices).get(reason, reason)}"
            + (f" ({note.strip()})" if note.strip() else ""),
            by=by,
            now=now,
        )
        # A voided prize that already went out still refunds (it is the customer's money); the
        # audit entry says so, per number, for whoever recovers the prize.
        delivered = _prizes_delivered(voided, locked)
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
            note=_with_delivered(note, delivered)[:255],
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
                **({"instant_wins_voided": sorted(w.number for w in voided)} if voided else {}),
                **(
                    {"instant_prizes_delivered": [number for number, _, _ in delivered]}
                    if delivered
                    else {}
                ),
            },
            note="\n".join(filter(None, [note, *(warning for _, _, warning in delivered)])),
        )
        events.refund_created(refund)
        if submit:
            refund_queue(refund=refund)
    refund.refresh_from_db()
    return refund


def _with_delivered(note: str, delivered: list[tuple[int, str, str]]) -> str:
    """The refund row's short note, naming any instant prize already delivered."""
    if not delivered:
        return note
    prizes = ", ".join(f"#{number} ({title})" for number, title, _ in delivered)
    return " ".join(filter(None, [note, f"Instant prize already delivered, recover: {prizes}."]))


def _prizes_delivered(voided, competitions) -> list[tuple[int, str, str]]:
    """(ticket number, prize, warning) for each win just voided whose prize had already gone
    out."""
    delivered = instant_prizes_delivered(voided)
    return [
        (
            win.number,
            win.prize.title,
            prize_delivered_warning(
                ticket_number=win.number,
                prize_title=win.prize.title,
                competition=competitions[win.competition_id],
                delivered=delivered[win.pk],
            ),
        )
        for win in sorted(voided, key=lambda w: (w.competition_id, w.number))
        if win.pk in delivered
    ]


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


# --- the refunds' outbox ----------------------------------------------------------------------


def refund_queue(*, refund: Refund) -> None:
    """Send this refund (a pending row written in the caller's transaction) once that
    transaction commits. Nothing is lost if the broker is down then: the sweeper sends it."""
    transaction.on_commit(partial(_dispatch, refund.pk), robust=True)


def _dispatch(refund_id: int) -> None:
    # Imported here: tickets.tasks imports the services.
    from ..tasks import submit_refund

    try:
        submit_refund.delay(refund_id)
    except (BrokerUnavailable, OSError) as exc:
        logger.warning("Broker unavailable; refund %s left to the sweeper: %s", refund_id, exc)


def refund_retry_delay(attempts: int) -> timedelta:
    """Back-off after `attempts` tries: doubling from REFUND_RETRY_BASE, capped."""
    return min(REFUND_RETRY_MAX, REFUND_RETRY_BASE * 2 ** min(attempts, 20))


def refund_submit(*, refund_id: int, now=None) -> Refund:
    """Send a pending refund to the payment gateway, if no other worker is sending it.

    Safe to run any number of times, at once or one after another: the compare-and-set claim
    lets one caller through, and the provider sees the row's idempotency key on every send.
    Never raises for a provider failure: a transient one is retried with a back-off, a
    permanent one (or the last attempt) marks the refund failed and alerts the operators."""
    claimed = Refund.objects.filter(pk=refund_id, status=Refund.Status.PENDING).update(
        status=Refund.Status.SUBMITTING,
        attempts=F("attempts") + 1,
        claimed_at=now or timezone.now(),
        next_attempt_at=None,
    )
    refund = Refund.objects.select_related("order").get(pk=refund_id)
    if not claimed:
        return refund  # sent, failed, or another worker has it
    try:
        result = payments.get_gateway().refund(
            payment_intent_id=refund.order.stripe_payment_intent_id,
            amount_pence=payments.to_pence(refund.amount),
            idempotency_key=refund.idempotency_key,
            metadata={"order_id": str(refund.order_id), "refund_id": str(refund.pk)},
        )
    except ProviderUnavailable as exc:
        _record_failure(refund.pk, str(exc), permanent=False)
    except PaymentFailed as exc:
        _record_failure(refund.pk, str(exc), permanent=True)
    except Exception as exc:  # a bug must not strand the refund: retry, then fail and alert
        logger.exception("Sending refund %s crashed", refund.pk)
        _record_failure(refund.pk, f"{type(exc).__name__}: {exc}", permanent=False)
    else:
        _record_success(refund.pk, provider_refund_id=result.id, now=now or timezone.now())
    refund.refresh_from_db()
    return refund


@transaction.atomic
def _record_success(refund_id: int, *, provider_refund_id: str, now) -> None:
    # Pending too: a claim the sweeper took back (a very slow provider) is done all the same.
    refund = (
        Refund.objects.select_for_update()
        .filter(pk=refund_id, status__in=[Refund.Status.SUBMITTING, Refund.Status.PENDING])
        .first()
    )
    if refund is None:
        return
    before = {"status": refund.status}
    refund.status = Refund.Status.SUCCEEDED
    refund.provider_refund_id = provider_refund_id
    refund.completed_at = now
    refund.next_attempt_at = None
    refund.failure_message = ""
    refund.save(
        update_fields=[
            "status",
            "provider_refund_id",
            "completed_at",
            "next_attempt_at",
            "failure_message",
        ]
    )
    audit_record(
        actor=None,
        action="refund.sent",
        obj=refund,
        before=before,
        after={
            "status": refund.status,
            "provider_refund_id": provider_refund_id,
            "attempts": refund.attempts,
        },
    )


@transaction.atomic
def _record_failure(refund_id: int, message: str, *, permanent: bool, claimed_before=None) -> str:
    """Back to pending with a back-off, or failed (and the operators told) when retrying
    cannot help or the attempts are used up."""
    claims = Refund.objects.select_for_update().filter(
        pk=refund_id, status=Refund.Status.SUBMITTING
    )
    if claimed_before is not None:
        claims = claims.filter(claimed_at__lt=claimed_before)
    refund = claims.select_related("order").first()
    if refund is None:
        return "not submitting"
    refund.failure_message = message[:500]
    if permanent or refund.attempts >= REFUND_MAX_ATTEMPTS:
        refund.status = Refund.Status.FAILED
        refund.next_attempt_at = None
        logger.error("Refund %s of order %s failed: %s", refund.pk, refund.order, message)
        audit_record(
            actor=None,
            action="refund.failed",
            obj=refund,
            before={"status": Refund.Status.SUBMITTING},
            after={"status": refund.status, "attempts": refund.attempts},
            note=refund.failure_message,
        )
        _alert_operators(refund, permanent=permanent)
    else:
        refund.status = Refund.Status.PENDING
        refund.next_attempt_at = timezone.now() + refund_retry_delay(refund.attempts)
        logger.warning(
            "Refund %s attempt %s failed, retrying at %s: %s",
            refund.pk,
            refund.attempts,
            refund.next_attempt_at,
            message,
        )
    refund.save(update_fields=["status", "failure_message", "next_attempt_at"])
    return refund.status


def _alert_operators(refund: Refund, *, permanent: bool) -> None:
    why = "the provider refused it" if permanent else f"{refund.attempts} attempts failed"
    admin_alert(
        subject=f"Refund failed: {refund.order} ({refund.amount} {refund.currency})",
        message=(
            f"The refund of {refund.amount} {refund.currency} for order {refund.order} "
            f"({refund.get_reason_display()}) was not paid out: {why}.\n\n"
            f"Error: {refund.failure_message}\n\n"
            f"Refund #{refund.pk}; fix the cause, then use \u201cRetry failed refunds\u201d "
            f"in the admin (the same idempotency key is sent, so it is never paid twice)."
        ),
        key=f"refund-failed-{refund.pk}-{refund.attempts}",
    )


def refund_sweep(*, now=None) -> int:
    """Take back stale claims and queue every refund that is due; returns how many were
    queued. Beat runs it every minute (tickets.tasks.sweep_refunds)."""
    from ..tasks import submit_refund  # tickets.tasks imports the services

    now = now or timezone.now()
    stale = now - SUBMITTING_TIMEOUT
    for refund_id in Refund.objects.filter(
        status=Refund.Status.SUBMITTING, claimed_at__lt=stale
    ).values_list("pk", flat=True):
        _record_failure(
            refund_id,
            "No answer in time: the worker probably stopped while sending.",
            permanent=False,
            claimed_before=stale,
        )
    due = Refund.objects.filter(status=Refund.Status.PENDING).filter(
        Q(next_attempt_at__lte=now)
        | Q(next_attempt_at__isnull=True, created_at__lte=now - DISPATCH_GRACE)
    )
    ids = list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:SWEEP_BATCH])
    Refund.objects.filter(pk__in=ids, status=Refund.Status.PENDING).update(
        next_attempt_at=now + REQUEUE_AFTER
    )
    for queued, refund_id in enumerate(ids):
        try:
            submit_refund.delay(refund_id)
        except (BrokerUnavailable, OSError) as exc:
            logger.warning("Broker unavailable; the refund sweeper will try again: %s", exc)
            # Still due: the next sweep queues them as soon as the broker is back.
            Refund.objects.filter(pk__in=ids[queued:], status=Refund.Status.PENDING).update(
                next_attempt_at=now
            )
            return queued
    return len(ids)


def refund_retry(*, refund: Refund, by=None) -> Refund:
    """Send a failed refund again now, with fresh attempts (same idempotency key, so never
    paid out twice), and record the attempt and its result in the audit log."""
    claimed = Refund.objects.filter(pk=refund.pk, status=Refund.Status.FAILED).update(
        status=Refund.Status.PENDING, failure_message="", attempts=0, next_attempt_at=None
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
