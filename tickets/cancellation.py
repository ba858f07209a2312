"""Cancelling a competition and refunding everyone in it (docs/architecture.md §2).

It lives with the refunds, not with the competition: cancelling is mostly giving money and
numbers back, and tickets is above competitions in the layers (config/layers.py), so the
ticket services may change the competition, never the reverse. The competition's own rule
("a final competition is never cancelled again") is `Competition.is_final`.

A competition may have 100,000 orders, so cancelling is a short transaction and a resumable
background job rather than one transaction holding locks for minutes:

- `competition_cancel` (one short transaction): the competition becomes cancelled, so sales
  stop at once (a payment still arriving is refunded automatically, tickets.services
  .fulfilment); a `CancellationJob` records what is to be done; the audit entry; the job's
  task is queued after commit.
- `cancellation_job_run` (the task): every entrant is told the competition is cancelled
  (one message each, `tickets.entrants`, before any ticket is refunded); checkouts in
  progress give their numbers back; paid
  orders are refunded in batches of `BATCH_SIZE`, ascending ids, each batch one transaction
  that refunds its orders (`order_refund`: the customer is told, the refund goes out through
  the refunds' outbox) and moves the job's cursor (`last_order_id`) and counts on. The job's
  row is locked first in each batch, then `order_refund` takes its own locks (the order's
  competitions, then the order). Free postal entries are voided at the end and the job is done.
- A job that stopped half-way (a crash, a deploy) resumes after its cursor: what a batch did
  and the cursor commit together, so no order is refunded twice (and `order_refund` refuses an
  order already refunded in any case). Two runners at once queue on the job's row.
  `cancellation_jobs_resume` (beat, every minute) queues jobs that have stopped making progress.
"""

import logging
from datetime import timedelta
from functools import partial

from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from competitions.exceptions import CompetitionError
from competitions.lifecycle import Status
from competitions.models import Competition
from core.audit import audit_record, audit_snapshot

from .entrants import entrant_broadcast_run, entrant_broadcast_start
from .exceptions import Busy, TicketError
from .instant_wins import instant_wins_refunded
from .models import CancellationJob, EntrantBroadcast, Order, Refund, Ticket
from .services import order_refund, order_release

logger = logging.getLogger(__name__)

BATCH_SIZE = 200  # orders refunded per transaction
# A running job that has not moved for this long is queued again by the beat task.
STALLED_AFTER = timedelta(minutes=2)
MAX_FAILURES_LISTED = 200


@transaction.atomic
def competition_cancel(*, competition: Competition, by, reason: str, now=None) -> Competition:
    """Cancel a competition before its draw: sales stop now, and a background job refunds
    every paid ticket and voids the free entries (`cancellation_job_run`), queued once this
    short transaction commits. Refused for a competition already drawn or cancelled."""
    now = now or timezone.now()
    if not (reason or "").strip():
        raise CompetitionError("Say why the competition is cancelled.")
    competition = Competition.objects.select_for_update().get(pk=competition.pk)
    if competition.is_final:
        raise CompetitionError(f"“{competition}” is already {competition.status}.")
    before = audit_snapshot(competition, ("status", "tickets_sold"))
    orders = _orders_to_refund(competition.pk).count()
    Competition.objects.filter(pk=competition.pk).update(
        status=Status.CANCELLED, cancelled_at=now, is_featured=False, updated_at=now
    )
    competition.refresh_from_db()
    job = CancellationJob.objects.create(
        competition=competition,
        reason=reason[:255],
        started_by=by if getattr(by, "pk", None) else None,
        orders_total=orders,
        started_at=now,
        updated_at=now,
    )
    audit_record(
        actor=by,
        action="competition.cancel",
        obj=competition,
        before=before,
        after=audit_snapshot(competition, ("status", "cancelled_at", "tickets_sold")),
        note=f"{reason} ({orders} orders to refund)",
    )
    # Every entrant hears the result once; the job tells them before refunding anything
    # (entrants are the holders of valid tickets, which the refunds take away).
    entrant_broadcast_start(
        competition=competition,
        subject="result",
        kind="cancelled",
        context={"reason": reason[:255]},
        now=now,
        run=False,
    )
    transaction.on_commit(partial(_queue, job.pk), robust=True)
    return competition


def _queue(job_id: int) -> None:
    from .tasks import run_cancellation  # tickets.tasks imports this module

    try:
        run_cancellation.delay(job_id)
    except (BrokerUnavailable, OSError) as exc:
        logger.warning("Broker unavailable; cancellation job %s left to beat: %s", job_id, exc)


def _orders_to_refund(competition_id: int, *, after: int = 0):
    """Orders with paid tickets still live in the competition, after the cursor, in id order."""
    live = Ticket.objects.filter(
        competition_id=competition_id, status__in=Ticket.SOLD_STATUSES, order__isnull=False
    )
    return Order.objects.filter(pk__in=live.values("order_id"), pk__gt=after).order_by("pk")


def cancellation_job_run(*, job_id: int, batch_size: int = BATCH_SIZE, now=None) -> CancellationJob:
    """Carry a cancellation job on from where it stopped until every order is dealt with.
    Safe to run again, or twice at once. Returns the job (still running if a busy lock made
    it stop early: beat queues it again)."""
    job = CancellationJob.objects.get(pk=job_id)
    if job.status == CancellationJob.Status.DONE:
        return job
    for broadcast_id in EntrantBroadcast.objects.filter(
        competition_id=job.competition_id, subject="result", finished_at__isnull=True
    ).values_list("pk", flat=True):
        entrant_broadcast_run(broadcast_id=broadcast_id, now=now)
    _release_checkouts(job.competition_id, now=now)
    while True:
        done = cancellation_batch_refund(job_id=job_id, batch_size=batch_size, now=now)
        if done is None:
            return CancellationJob.objects.get(pk=job_id)  # busy: try again later
        if done == 0:
            return cancellation_job_finish(job_id=job_id, now=now)


def _release_checkouts(competition_id: int, *, now=None) -> None:
    """Checkouts in progress give their numbers back and their payment pages close (each
    release is its own short transaction, tickets.services.release)."""
    pending = Order.objects.filter(
        status=Order.Status.PENDING, lines__competition_id=competition_id
    ).values_list("pk", flat=True)
    for order_id in list(pending):
        order_release(order_id=order_id, reason=Order.Status.CANCELLED, only_if_lapsed=False)


def cancellation_batch_refund(*, job_id: int, batch_size: int = BATCH_SIZE, now=None) -> int | None:
    """Refund the next `batch_size` orders of a job in one transaction, with its progress.
    Returns how many orders it dealt with (0: none left), or None if an order's other
    competition was too busy to lock (what was done before it is kept)."""
    with transaction.atomic():
        job = CancellationJob.objects.select_for_update().get(pk=job_id)
        if job.status != CancellationJob.Status.RUNNING:
            return 0
        orders = list(_orders_to_refund(job.competition_id, after=job.last_order_id)[:batch_size])
        dealt = 0
        for order in orders:
            tickets = Ticket.objects.filter(
                order=order, competition_id=job.competition_id, status__in=Ticket.SOLD_STATUSES
            )
            try:
                order_refund(
                    order=order,
                    tickets=list(tickets),
                    reason=Refund.Reason.COMPETITION_CANCELLED,
                    note=job.reason,
                    by=job.started_by,
                    now=now,
                )
            except Busy:
                break
            except (TicketError, DatabaseError) as exc:  # rolled back to order_refund's savepoint
                logger.error("Cancellation %s could not refund %s: %s", job.pk, order, exc)
                job.orders_failed += 1
                if len(job.failures) < MAX_FAILURES_LISTED:
                    job.failures.append(f"{order}: {exc}"[:300])
            else:
                job.orders_refunded += 1
            job.last_order_id = order.pk
            dealt += 1
        job.updated_at = timezone.now()
        job.save(
            update_fields=[
                "orders_refunded",
                "orders_failed",
                "failures",
                "last_order_id",
                "updated_at",
            ]
        )
    return None if dealt < len(orders) else dealt


@transaction.atomic
def cancellation_job_finish(*, job_id: int, now=None) -> CancellationJob:
    """The last step, once every order is dealt with: free postal entries (no money to
    return) are voided the same way (an instant win one of them won is void too), and the
    job is done, with its audit entry."""
    now = now or timezone.now()
    job = CancellationJob.objects.select_for_update().select_related("competition").get(pk=job_id)
    if job.status == CancellationJob.Status.DONE:
        return job
    postal = Ticket.objects.filter(
        competition_id=job.competition_id, status__in=Ticket.SOLD_STATUSES, order__isnull=True
    )
    # Read only where a postal entry may hold an instant win, which is void with its entry.
    held = (
        list(postal.only("pk", "competition_id")) if job.competition.instant_wins_commitment else []
    )
    voided = postal.update(status=Ticket.Status.REFUNDED, refunded_at=now)
    instant_wins_refunded(
        tickets=held,
        competitions=[job.competition],
        reason=f"Competition cancelled: {job.reason}",
        by=job.started_by,
        now=now,
    )
    Competition.objects.filter(pk=job.competition_id).update(
        tickets_sold=F("tickets_sold") - voided, updated_at=now
    )
    job.status = CancellationJob.Status.DONE
    job.finished_at = job.updated_at = now
    job.save(update_fields=["status", "finished_at", "updated_at"])
    audit_record(
        actor=job.started_by,
        action="competition.cancel_done",
        obj=job.competition,
        after={
            "orders_refunded": job.orders_refunded,
            "orders_failed": job.orders_failed,
            "postal_entries_voided": voided,
        },
        note=job.reason,
    )
    return job


def cancellation_jobs_resume(*, now=None) -> int:
    """Queue every running job that has stopped making progress (its worker died, the broker
    lost the task, a busy lock stopped it); returns how many. Beat runs it every minute."""
    from .tasks import run_cancellation  # tickets.tasks imports this module

    now = now or timezone.now()
    stalled = list(
        CancellationJob.objects.filter(
            status=CancellationJob.Status.RUNNING, updated_at__lt=now - STALLED_AFTER
        ).values_list("pk", flat=True)
    )
    for job_id in stalled:
        try:
            run_cancellation.delay(job_id)
        except (BrokerUnavailable, OSError) as exc:
            logger.warning("Broker unavailable; cancellation jobs wait for the next beat: %s", exc)
            return 0
        CancellationJob.objects.filter(pk=job_id, updated_at__lt=now - STALLED_AFTER).update(
            updated_at=now
        )
    return len(stalled)
