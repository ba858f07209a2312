from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from .models import Notification
from .services import notification_relay, notification_send, notification_sweep


@shared_task(ignore_result=True)
def send_notification(notification_id: int) -> str:
    """Send one outbox entry (queued after commit). Safe to run twice: the claim decides."""
    return notification_send(notification_id=notification_id)


@shared_task(ignore_result=True)
def relay_outbox() -> int:
    """Every second (NOTIFICATIONS_DISPATCH "relay"): queue what was committed since."""
    return notification_relay()


@shared_task(ignore_result=True)
def sweep_outbox() -> int:
    """Every minute: queue entries due (again), take back claims of workers that died."""
    return notification_sweep()


@shared_task
def purge_old_notifications(days: int = 180) -> int:
    """Delete sent outbox entries older than `days` (the outbox is not an archive)."""
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = Notification.objects.filter(
        status=Notification.Status.SENT, sent_at__lt=cutoff
    ).delete()
    return deleted
