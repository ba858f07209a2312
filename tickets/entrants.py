"""Telling every entrant of a competition something, in batches (docs/architecture.md §2).

An entrant is a customer with a valid ticket in the competition: paid or a free postal entry
(a postal entry counts as its customer), not refunded, not a wrong answer. A competition may
have 100,000 of them, so they are read in batches of `BATCH_SIZE` customers in id order, and
each batch's messages go to the outbox in one statement, in a transaction of their own: a
few queries per batch, never per entrant. Every message's idempotency key names the
competition and the customer, so running it again (a retried task, the periodic job) adds
nothing for anyone already told: exactly one message per entrant per subject.
"""

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from functools import partial

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from notifications.models import Notification
from notifications.outbox import enqueue

from .models import EntrantBroadcast, Ticket

logger = logging.getLogger(__name__)

BATCH_SIZE = 500


def entrant_ids(competition_id: int):
    """The customers holding a valid ticket (paid or postal) in the competition, as a subquery."""
    return (
        Ticket.objects.filter(competition_id=competition_id, status=Ticket.Status.ACTIVE)
        .values("user_id")
        .distinct()
    )


def entrants_in_batches(competition_id: int, *, batch_size: int = BATCH_SIZE) -> Iterator[list]:
    """The entrants as users, `batch_size` at a time, ascending id (one query a batch)."""
    users = get_user_model().objects.filter(pk__in=entrant_ids(competition_id)).order_by("pk")
    after = 0
    while batch := list(users.filter(pk__gt=after)[:batch_size]):
        yield batch
        after = batch[-1].pk


def entrants_tell(
    competition_id: int,
    build: Callable[[object], Iterable[Notification | None]],
    *,
    exclude_user_ids: Iterable[int] = (),
    batch_size: int = BATCH_SIZE,
) -> int:
    """Queue `build(user)`'s messages for every entrant except `exclude_user_ids`, a batch per
    transaction. `build` gives keys unique per competition and customer. Returns how many
    entrants were considered."""
    skip = set(exclude_user_ids)
    told = 0
    for batch in entrants_in_batches(competition_id, batch_size=batch_size):
        with transaction.atomic():
            enqueue(m for user in batch if user.pk not in skip for m in build(user))
        told += sum(user.pk not in skip for user in batch)
    return told


# --- broadcasts: a subject told to every entrant once ----------------------------------------

# kind -> prepare(broadcast) -> (build(user) -> messages, user ids left out). Apps that write
# the messages register their kinds in their AppConfig.ready() (draws: "extended", "drawn";
# tickets itself: "cancelled"), so tickets knows no message of a higher app.
BUILDERS: dict[str, Callable] = {}
STALLED_AFTER = timedelta(minutes=2)


def entrant_broadcast_register(kind: str, prepare: Callable) -> None:
    BUILDERS[kind] = prepare


def entrant_broadcast_start(
    *, competition, subject: str, kind: str, context: dict | None = None, now=None, run=True
):
    """Record a broadcast (inside the caller's transaction) and run it once that commits; a
    subject already recorded is not recorded again. `run=False`: the caller runs it itself."""
    broadcast, created = EntrantBroadcast.objects.get_or_create(
        competition=competition,
        subject=subject,
        defaults={"kind": kind, "context": context or {}, "created_at": now or timezone.now()},
    )
    if created and run:
        transaction.on_commit(partial(_queue, broadcast.pk), robust=True)
    return broadcast


def _queue(broadcast_id: int) -> None:
    from .tasks import run_entrant_broadcast  # tickets.tasks imports this module

    try:
        run_entrant_broadcast.delay(broadcast_id)
    except (BrokerUnavailable, OSError) as exc:
        logger.warning("Broker unavailable; broadcast %s left to beat: %s", broadcast_id, exc)


def entrant_broadcast_run(*, broadcast_id: int, batch_size: int = BATCH_SIZE, now=None):
    """Tell every entrant (safe to run again, or twice at once: the keys decide)."""
    broadcast = EntrantBroadcast.objects.select_related("competition").get(pk=broadcast_id)
    if broadcast.finished_at is not None:
        return broadcast
    build, exclude = BUILDERS[broadcast.kind](broadcast)
    told = entrants_tell(
        broadcast.competition_id, build, exclude_user_ids=exclude, batch_size=batch_size
    )
    EntrantBroadcast.objects.filter(pk=broadcast.pk, finished_at__isnull=True).update(
        finished_at=now or timezone.now(), entrants_told=told
    )
    broadcast.refresh_from_db()
    return broadcast


def entrant_broadcasts_resume(*, now=None) -> int:
    """Run every broadcast left unfinished (its task lost, its worker stopped); beat, every
    minute. Returns how many."""
    now = now or timezone.now()
    stalled = EntrantBroadcast.objects.filter(
        finished_at__isnull=True, created_at__lt=now - STALLED_AFTER
    ).values_list("pk", flat=True)
    count = 0
    for broadcast_id in list(stalled):
        try:
            entrant_broadcast_run(broadcast_id=broadcast_id, now=now)
            count += 1
        except Exception:
            logger.exception("Broadcast %s failed; tried again next minute", broadcast_id)
    return count
