"""The outbox: writing messages, sending each exactly once, retrying what failed.

Callers (each domain's events.py, usually through notifications.outbox) enqueue inside the
transaction of the change that causes the message, so a notification exists exactly when its
cause does. What a message says is the domain's business; from here on it is only a row with a
channel, a recipient and a payload. After commit a Celery task sends it:

- a compare-and-set claim (pending → sending) lets exactly one worker send an entry, however
  many tasks were queued for it (healthchecks' sendalerts does the same);
- the provider is called outside any transaction;
- a transient error puts the entry back to pending with an exponential back-off, a permanent
  one (or the last attempt) marks it failed and alerts the operators;
- the sweeper (every minute) queues entries whose time has come, and those whose task never
  reached the broker, and takes back claims from workers that died mid-send.
"""

import logging
from collections.abc import Sequence
from datetime import timedelta
from functools import cache

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import Case, F, PositiveSmallIntegerField, Q, Value, When
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnavailable

from core.audit import audit_record

from .models import Notification
from .transports import TransportError, transport_for

logger = logging.getLogger(__name__)

Status = Notification.Status

# An entry the on-commit dispatch or the relay should have queued but which is still pending
# after this long (the broker was down) is queued by the sweeper.
DISPATCH_GRACE = timedelta(minutes=2)
# After queueing an entry the sweeper leaves it alone this long, so a slow queue is not flooded.
REQUEUE_AFTER = timedelta(minutes=5)
SWEEP_BATCH = 500


def notification_enqueue(
    *,
    kind: str,
    channel: str,
    recipient: str,
    payload: dict,
    idempotency_key: str,
    user=None,
) -> Notification:
    """Add one message to the outbox; the same idempotency key twice is one message."""
    (notification,) = notification_enqueue_many(
        [
            Notification(
                kind=kind,
                channel=channel,
                recipient=recipient,
                payload=payload,
                user=user,
                idempotency_key=idempotency_key,
            )
        ]
    )
    return notification


def notification_enqueue_many(notifications: Sequence[Notification]) -> list[Notification]:
    """Add messages (unsaved Notification rows) to the outbox in one statement. A key already
    in the outbox, or given twice, is one message: the one stored first is returned for it."""
    first = _first_of_each_key(notifications)
    added = _insert_new(list(first.values())) if first else {}
    stored = Notification.objects.in_bulk(
        [key for key in first if key not in added], field_name="idempotency_key"
    )
    stored.update(notifications_added(list(first.values()), added))
    return [stored[notification.idempotency_key] for notification in notifications]


def _first_of_each_key(notifications) -> dict[str, Notification]:
    first: dict[str, Notification] = {}
    for notification in notifications:
        first.setdefault(notification.idempotency_key, notification)
    return first


def _outbox_connection():
    """The database connection the outbox is written through."""
    return connections[router.db_for_write(Notification)]


def notification_insert_sql(notifications: Sequence[Notification], *, when: str):
    """`notification_enqueue_many`'s insert as a statement to run inside another one's WITH
    clause (a caller that writes the messages in the statement that decides them, saving a
    round trip): the rows not in the outbox yet are written if `when` (an SQL condition)
    holds, `RETURNING id, idempotency_key`; pass those to `notifications_added`. Returns the
    statement and its parameters (typed, so PostgreSQL can prepare it: core.prepared)."""
    connection = _outbox_connection()
    rows = list(_first_of_each_key(notifications).values())
    fields, sql = _insert_sql(connection.alias, len(rows), when)
    return sql, _insert_params(rows, fields, connection)


@cache
def _insert_sql(alias: str, count: int, when: str) -> tuple[list, str]:
    """(the fields written, the statement) for `count` rows: built once per process."""
    meta = Notification._meta
    connection = connections[alias]
    quote = connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    row = "(" + ", ".join(f"%s::{f.db_type(connection)}" for f in fields) + ")"
    columns = ", ".join(quote(f.column) for f in fields)
    key = quote(meta.get_field("idempotency_key").column)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns})"
        f" SELECT * FROM (VALUES {', '.join([row] * count)}) AS new ({columns})"
        f" WHERE {when} ON CONFLICT ({key}) DO NOTHING"
        f" RETURNING {quote(meta.pk.column)}, {key}"
    )
    return fields, sql


def notifications_added(notifications: Sequence[Notification], added: dict[str, int]) -> dict:
    """The messages an insert wrote ({key: id}, from `notification_insert_sql` or
    `_insert_new`): their ids set; each is queued once the caller's transaction commits
    (NOTIFICATIONS_DISPATCH "commit") or by the relay's next tick (`notification_relay`).
    Returns {key: message} of those."""
    written = {}
    for notification in notifications:
        pk = added.get(notification.idempotency_key)
        if pk is None or notification.idempotency_key in written:
            continue
        notification.pk = pk
        written[notification.idempotency_key] = notification
        if settings.NOTIFICATIONS_DISPATCH == "commit":
            transaction.on_commit(lambda pk=pk: _dispatch(pk))
    return written


def _insert_params(notifications, fields, connection) -> list:
    return [
        f.get_db_prep_save(f.pre_save(notification, True), connection)
        for notification in notifications
        for f in fields
    ]


def _insert_new(notifications: list[Notification]) -> dict[str, int]:
    """Insert the rows whose key is not in the outbox yet, in one statement (INSERT ... ON
    CONFLICT DO NOTHING: no read first, no savepoint, so no extra round trips inside the callers'
    transactions, which may hold a sale's lock); returns {key: id} of the rows it added."""
    meta = Notification._meta
    connection = _outbox_connection()
    quote = connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    key = quote(meta.get_field("idempotency_key").column)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES {', '.join([row] * len(notifications))} ON CONFLICT ({key}) DO NOTHING "
        f"RETURNING {quote(meta.pk.column)}, {key}"
    )
    params = _insert_params(notifications, fields, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {key: pk for pk, key in cursor.fetchall()}


def _dispatch(notification_id: int) -> None:
    """Queue the send task for a committed entry. With the broker down the entry stays pending
    and the sweeper queues it later: the change that caused it has committed regardless."""
    from .tasks import send_notification

    try:
        send_notification.delay(notification_id)
    except BrokerUnavailable:
        logger.warning("Broker unavailable; notification %s left to the sweeper", notification_id)


def retry_delay(attempts: int) -> timedelta:
    """Back-off after `attempts` tries: base * 2**attempts seconds, capped."""
    seconds = settings.NOTIFICATIONS_RETRY_BASE_SECONDS * 2 ** min(attempts, 20)
    return timedelta(seconds=min(seconds, settings.NOTIFICATIONS_RETRY_MAX_SECONDS))


def notification_send(*, notification_id: int) -> str:
    """Send one outbox entry if it is still pending; returns what became of it."""
    claimed = Notification.objects.filter(pk=notification_id, status=Status.PENDING).update(
        status=Status.SENDING, attempts=F("attempts") + 1, claimed_at=timezone.now()
    )
    if not claimed:
        return "not pending"  # sent, failed, or another worker has it
    notification = Notification.objects.select_related("user").get(pk=notification_id)
    refused = _refuse_without_consent(notification)
    if refused:
        Notification.objects.filter(pk=notification_id, status=Status.SENDING).update(
            status=Status.FAILED, last_error=refused, next_attempt_at=None
        )
        return Status.FAILED
    try:
        provider_message_id = transport_for(notification.channel).send(notification)
    except TransportError as error:
        return _record_failure(notification_id, error)
    except Exception as error:  # a bug must not strand the entry: retry, then fail and alert
        logger.exception("Sending notification %s crashed", notification_id)
        return _record_failure(notification_id, TransportError(f"{type(error).__name__}: {error}"))

    # Pending too: a claim the sweeper took back (a very slow provider) must not be sent again.
    Notification.objects.filter(
        pk=notification_id, status__in=[Status.SENDING, Status.PENDING]
    ).update(
        status=Status.SENT,
        sent_at=timezone.now(),
        provider_message_id=(provider_message_id or "")[:255],
        next_attempt_at=None,
        last_error="",
    )
    return Status.SENT


def _refuse_without_consent(notification: Notification) -> str:
    """Marketing consent is read again at send time, so withdrawing it wins over anything still
    queued or retrying: a queued Klaviyo event is dropped, and a profile update (however old)
    sends the customer's consent as it is now. Returns why the entry must not be sent."""
    user = notification.user
    if notification.channel != Notification.Channel.KLAVIYO or user is None:
        return ""
    if notification.kind == Notification.Kind.PROFILE_UPDATED:
        if notification.payload.get("subscribed") != user.marketing_consent:
            notification.payload["subscribed"] = user.marketing_consent
            Notification.objects.filter(pk=notification.pk).update(payload=notification.payload)
        return ""
    if not user.marketing_consent:
        return "Not sent: the customer has withdrawn marketing consent."
    if user.is_excluded():
        return "Not sent: the customer is on a break or self-excluded."
    return ""


@transaction.atomic
def _record_failure(notification_id: int, error: TransportError, *, claimed_before=None) -> str:
    """Back to pending with a back-off, or failed (and the operators told) when retrying
    cannot help or the attempts are used up."""
    claims = Notification.objects.select_for_update().filter(
        pk=notification_id, status=Status.SENDING
    )
    if claimed_before is not None:
        claims = claims.filter(claimed_at__lt=claimed_before)
    notification = claims.first()
    if notification is None:
        return "not sending"
    now = timezone.now()
    notification.last_error = error.message
    if error.permanent or notification.attempts >= settings.NOTIFICATIONS_MAX_ATTEMPTS:
        notification.status = Status.FAILED
        notification.next_attempt_at = None
        logger.error("Notification %s failed: %s", notification.pk, error.message)
        _alert_operators(notification, permanent=error.permanent)
    else:
        notification.status = Status.PENDING
        notification.next_attempt_at = now + retry_delay(notification.attempts)
        logger.warning(
            "Notification %s attempt %s failed, retrying at %s: %s",
            notification.pk,
            notification.attempts,
            notification.next_attempt_at,
            error.message,
        )
    notification.save(update_fields=["status", "last_error", "next_attempt_at"])
    return notification.status


def _alert_operators(notification: Notification, *, permanent: bool) -> None:
    if notification.kind == Notification.Kind.ADMIN_ALERT:
        return  # an alert about a failing alert would fail the same way, forever
    from .outbox import admin_alert  # outbox builds on this module

    why = "the provider refused it" if permanent else f"{notification.attempts} attempts failed"
    admin_alert(
        subject=f"Notification failed: {notification.get_kind_display()} "
        f"({notification.get_channel_display()})",
        message=(
            f"The {notification.get_channel_display()} message "
            f"\u201c{notification.get_kind_display()}\u201d to {notification.recipient} "
            f"was not delivered: {why}.\n\nError: {notification.last_error}\n\n"
            f"Outbox entry #{notification.pk} ({notification.idempotency_key}); "
            f"fix the cause, then use \u201cRetry now\u201d in the admin."
        ),
        key=f"notification-failed-{notification.pk}",
    )


def notification_relay(*, now=None, batch: int = SWEEP_BATCH) -> int:
    """Queue the sends of the messages committed to the outbox and never queued yet (pending,
    no attempt due): the relay's tick, every NOTIFICATIONS_RELAY_SECONDS. Each is marked first,
    in the statement that finds it, as queued (the sweeper leaves it REQUEUE_AFTER), with
    SKIP LOCKED, so ticks that overlap never queue one twice. Returns how many were queued."""
    from .tasks import send_notification

    now = now or timezone.now()
    fresh = Notification.objects.filter(status=Status.PENDING, next_attempt_at__isnull=True)
    if _outbox_connection().vendor == "postgresql":
        fresh = fresh.select_for_update(skip_locked=True)
    with transaction.atomic():
        ids = list(fresh.order_by("pk").values_list("pk", flat=True)[:batch])
        Notification.objects.filter(pk__in=ids).update(next_attempt_at=now + REQUEUE_AFTER)
    for position, notification_id in enumerate(ids):
        try:
            send_notification.delay(notification_id)
        except BrokerUnavailable:
            # The rest wait for the sweeper (their mark says queued); so would these anyway.
            Notification.objects.filter(pk__in=ids[position:], status=Status.PENDING).update(
                next_attempt_at=now
            )
            logger.warning(
                "Broker unavailable; %s messages left to the sweeper", len(ids) - position
            )
            return position
    return len(ids)


def notification_sweep(*, now=None) -> int:
    """Take back stale claims and queue every entry that is due; returns how many were queued."""
    from .tasks import send_notification

    now = now or timezone.now()
    stale = now - settings.NOTIFICATIONS_SENDING_TIMEOUT
    for notification_id in Notification.objects.filter(
        status=Status.SENDING, claimed_at__lt=stale
    ).values_list("pk", flat=True):
        _record_failure(
            notification_id,
            TransportError("No result in time: the worker probably stopped while sending."),
            claimed_before=stale,
        )

    due = Notification.objects.filter(status=Status.PENDING).filter(
        Q(next_attempt_at__lte=now)
        | Q(next_attempt_at__isnull=True, created_at__lte=now - DISPATCH_GRACE)
    )
    ids = list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:SWEEP_BATCH])
    Notification.objects.filter(pk__in=ids, status=Status.PENDING).update(
        next_attempt_at=now + REQUEUE_AFTER
    )
    for notification_id in ids:
        try:
            send_notification.delay(notification_id)
        except BrokerUnavailable:
            logger.warning("Broker unavailable; the sweeper will try again")
            break
    return len(ids)


@transaction.atomic
def notification_retry(*, notification: Notification, by=None) -> bool:
    """Send again now: a failed entry starts over with fresh attempts, a pending one skips the
    rest of its back-off, and the retry is audited. False when it is sent or being sent."""
    before = {"status": notification.status, "attempts": notification.attempts}
    updated = Notification.objects.filter(
        pk=notification.pk, status__in=[Status.FAILED, Status.PENDING]
    ).update(
        attempts=Case(
            When(status=Status.FAILED, then=Value(0)),
            default=F("attempts"),
            output_field=PositiveSmallIntegerField(),
        ),
        status=Status.PENDING,
        next_attempt_at=None,
    )
    if updated:
        audit_record(
            actor=by,
            action="notification.retry",
            obj=notification,
            before=before,
            after={"status": Status.PENDING},
        )
        transaction.on_commit(lambda: _dispatch(notification.pk))
    return bool(updated)
