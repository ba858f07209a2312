from celery import shared_task

from .services import competition_sync_statuses


@shared_task
def sync_competition_statuses() -> int:
    return competition_sync_statuses()
