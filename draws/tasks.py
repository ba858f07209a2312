"""Scheduled draws: thin tasks over `draws.services`, safe to run any number of times."""

import logging
from datetime import timedelta
from functools import partial

from celery import shared_task
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from competitions.models import Competition

from .exceptions import AlreadyDrawn, DrawBusy, DrawError, DrawNotDue
from .models import Draw, Redraw
from .services import draw_due_competition, draws_close_and_find_due, redraw_perform, redraws_due
from .verification import verify_and_record

logger = logging.getLogger(__name__)


@shared_task
def run_due_draws() -> list[int]:
    """Every BEAT_INTERVAL: close what has ended, freeze ledgers, queue one task per due draw."""
    due = draws_close_and_find_due()
    for competition_id in due:
        transaction.on_commit(partial(draw_competition.delay, competition_id))
    for redraw_id in redraws_due():
        transaction.on_commit(partial(redraw_competition_prize.delay, redraw_id))
    return due


@shared_task(bind=True, max_retries=20, default_retry_delay=15, acks_late=True)
def draw_competition(self, competition_id: int) -> str:
    """Draw one competition automatically. Drawn already or no longer due counts as done:
    the service re-checks everything under the competition's lock."""
    try:
        draw = draw_due_competition(competition_id=competition_id)
    except (AlreadyDrawn, DrawNotDue, Competition.DoesNotExist) as skipped:
        logger.info("Draw of competition %s skipped: %s", competition_id, skipped)
        return f"skipped: {skipped}"
    except DrawBusy as busy:
        raise self.retry(exc=busy) from busy
    return f"draw {draw.pk}: {draw.status}"


@shared_task(bind=True, max_retries=20, default_retry_delay=15, acks_late=True)
def redraw_competition_prize(self, redraw_id: int) -> str:
    """Perform one redraw whose beacon round is due; waiting or done counts as skipped (the
    next beat asks again while it is pending)."""
    try:
        redraw = redraw_perform(redraw=Redraw(pk=redraw_id))
    except DrawBusy as busy:
        raise self.retry(exc=busy) from busy
    except (DrawError, Redraw.DoesNotExist) as skipped:
        logger.info("Redraw %s skipped: %s", redraw_id, skipped)
        return f"skipped: {skipped}"
    return f"redraw {redraw.pk}: {redraw.status}"


# Completed draws re-checked per run of `verify_draws`, oldest check first: each streams a
# whole ledger, so a run stays bounded however many draws there are.
VERIFY_BATCH = 20
REVERIFY_AFTER_DAYS = 7


@shared_task
def verify_draws() -> int:
    """Re-check completed draws from their published data (hourly, beat) and keep each result
    (draws.models.DrawVerification): draws never checked first, then those checked longest ago
    (more than REVERIFY_AFTER_DAYS). Returns how many were checked."""
    now = timezone.now()
    due = (
        Draw.objects.filter(status=Draw.Status.COMPLETED)
        .filter(
            Q(verification__isnull=True)
            | Q(verification__checked_at__lt=now - timedelta(days=REVERIFY_AFTER_DAYS))
        )
        .select_related("competition")
        .order_by("verification__checked_at", "id")[:VERIFY_BATCH]
    )
    checked = 0
    for draw in due:
        verify_and_record(draw, now)
        checked += 1
    return checked
