"""The notification outbox: each message once, sent ones tidied away."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from notifications.models import Notification
from notifications.tasks import purge_old_notifications

pytestmark = pytest.mark.django_db


def notification(key, **kw):
    fields = {
        "kind": Notification.Kind.ORDER_PLACED,
        "channel": Notification.Channel.EMAIL,
        "recipient": "sam@example.com",
        "idempotency_key": key,
    }
    fields.update(kw)
    return Notification.objects.create(**fields)


def test_same_message_cannot_be_queued_twice():
    notification("order_placed:FD-AAAA2222:email")
    with pytest.raises(IntegrityError), transaction.atomic():
        notification("order_placed:FD-AAAA2222:email", channel=Notification.Channel.SMS)
    notification("order_placed:FD-AAAA2222:sms", channel=Notification.Channel.SMS)
    assert Notification.objects.count() == 2


def test_new_notification_is_pending():
    assert notification("k1").status == Notification.Status.PENDING


def test_sent_notification_records_when():
    with pytest.raises(IntegrityError), transaction.atomic():
        notification("k1", status=Notification.Status.SENT, sent_at=None)


def test_purge_removes_only_old_sent_notifications():
    now = timezone.now()
    notification("old-sent", status=Notification.Status.SENT, sent_at=now - timedelta(days=181))
    recent = notification("recent-sent", status=Notification.Status.SENT, sent_at=now)
    failed = notification("old-failed", status=Notification.Status.FAILED)

    assert purge_old_notifications.delay().get(timeout=10) == 1

    remaining = set(Notification.objects.values_list("pk", flat=True))
    assert remaining == {recent.pk, failed.pk}
