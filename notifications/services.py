"""Writing to the outbox. Callers run inside the transaction of the change that causes the
message, so a notification exists exactly when its cause does."""

from django.db import transaction

from .models import Notification


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
    notification, created = Notification.objects.get_or_create(
        idempotency_key=idempotency_key,
        defaults={
            "kind": kind,
            "channel": channel,
            "recipient": recipient,
            "payload": payload,
            "user": user,
        },
    )
    if created:
        transaction.on_commit(lambda: _dispatch(notification.pk))
    return notification


def _dispatch(notification_id: int) -> None:
    """Hand a committed outbox entry to the sender (a Celery task once delivery exists)."""
