import logging
import random

from celery import shared_task

from . import cancellation, entrants, services
from .exceptions import ProviderUnavailable

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


@shared_task(ignore_result=True)
def submit_refund(refund_id: int) -> str:
    """Send one refund to the payment provider (queued after the transaction that recorded it
    commits, and by the sweeper). Safe to run twice: the claim decides, and the provider sees
    the refund's idempotency key; failures are retried by the sweeper with a back-off."""
    return services.refund_submit(refund_id=refund_id).status


@shared_task(ignore_result=True)
def sweep_refunds() -> int:
    """Every minute: send refunds that are due (again) or were never queued."""
    return services.refund_sweep()


@shared_task(ignore_result=True)
def sweep_receipts() -> int:
    """Every minute: sign the receipts of recent paid orders that have none (a process that
    stopped between a payment's commit and its receipt)."""
    return services.receipts_sweep()


@shared_task(ignore_result=True)
def run_cancellation(job_id: int) -> str:
    """Refund a cancelled competition's orders in batches (queued when it is cancelled, and
    again by beat if it stops). Safe to run twice: the job's row and cursor decide."""
    return cancellation.cancellation_job_run(job_id=job_id).status


@shared_task(ignore_result=True)
def resume_cancellations() -> int:
    """Every minute: carry on cancellation jobs, and messages to every entrant of a
    competition (tickets.entrants), that have stopped making progress."""
    entrants.entrant_broadcasts_resume()
    return cancellation.cancellation_jobs_resume()


@shared_task(ignore_result=True)
def run_entrant_broadcast(broadcast_id: int) -> int:
    """Tell every entrant of a competition one thing (queued when it happens; beat resumes it).
    Safe to run twice: each message's key is unique per competition, subject and customer."""
    return entrants.entrant_broadcast_run(broadcast_id=broadcast_id).entrants_told


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
