from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from .models import Notification


@shared_task
def purge_old_notifications(days: int = 180) -> int:
    """Delete sent outbox entries older than `days` (the outbox is not an archive)."""
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = Notification.objects.filter(
        status=Notification.Status.SENT, sent_at__lt=cutoff
    ).delete()
    return deleted
