import logging
import random

from celery import shared_task

from . import services
from .exceptions import ProviderUnavailable
from .models import Refund

logger = logging.getLogger(__name__)

# Back-off for expiring a checkout while Stripe is unreachable: 5 s, 10 s, 20 s ... capped at
# 10 minutes. The retries span about half an hour, by when Stripe has expired the session
# itself (its expires_at is at least 31 minutes after checkout began).
EXPIRE_RETRY_FIRST_SECONDS = 5
EXPIRE_RETRY_MAX_SECONDS = 600
EXPIRE_MAX_RETRIES = 9


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


def expire_retry_delay(retries: int) -> float:
    """Seconds before retry number `retries + 1`: doubling, capped, and up to a fifth longer at
    random, so a sweep's worth of retries after an outage does not reach Stripe all at once."""
    delay = min(EXPIRE_RETRY_MAX_SECONDS, EXPIRE_RETRY_FIRST_SECONDS * 2**retries)
    return delay * (1 + random.random() / 5)


@shared_task(bind=True, max_retries=EXPIRE_MAX_RETRIES, acks_late=True, ignore_result=True)
def expire_checkout(self, order_id: int) -> str:
    """Close a released order's Stripe checkout (queued after the release commits). Safe to run
    twice: a session already expired or paid counts as done."""
    try:
        return services.order_checkout_expire(order_id=order_id)
    except ProviderUnavailable as exc:
        if self.request.retries >= self.max_retries:
            logger.error("Gave up expiring the checkout of order %s: %s", order_id, exc)
            return f"gave up: {exc}"
        raise self.retry(exc=exc, countdown=expire_retry_delay(self.request.retries)) from exc
