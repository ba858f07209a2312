from celery import shared_task

from .services import harm_signals_scan


@shared_task
def scan_harm_signals() -> dict:
    """Hourly: flag customers the harm-signal rules pick out, for staff to review."""
    return harm_signals_scan().as_dict()
