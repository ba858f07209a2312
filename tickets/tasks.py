from celery import shared_task

from . import services
from .models import Refund


@shared_task
def release_expired_reservations() -> int:
    """Every minute: give lapsed checkouts' numbers back to sale."""
    return services.reservations_release_expired()


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def submit_refund(self, refund_id: int) -> str:
    """Send an automatic refund to the payment provider after the webhook has answered.
    Retries reuse the refund's idempotency key, so the customer is never paid twice."""
    if self.request.retries:
        refund = services.refund_retry(refund=Refund.objects.get(pk=refund_id))
    else:
        refund = services.refund_submit(refund_id=refund_id)
    if refund.status == Refund.Status.FAILED:
        raise self.retry()
    return refund.status
