"""State changes of a winner after the draw: verification and publication."""

from django.db import transaction
from django.utils import timezone

from .exceptions import NotApproved
from .models import Winner


@transaction.atomic
def winner_approve(*, winner: Winner, by=None, now=None) -> Winner:
    winner = Winner.objects.select_for_update().get(pk=winner.pk)
    winner.verification_status = Winner.Verification.APPROVED
    winner.verified_at = now or timezone.now()
    winner.verified_by = by
    winner.save(update_fields=["verification_status", "verified_at", "verified_by"])
    return winner


@transaction.atomic
def winner_publish(*, winner: Winner, now=None) -> Winner:
    """Show a winner on the Champions page (approved winners only)."""
    winner = Winner.objects.select_for_update().get(pk=winner.pk)
    if winner.verification_status != Winner.Verification.APPROVED:
        raise NotApproved("Approve the winner before publishing them to Champions.")
    if not winner.is_published:
        winner.is_published = True
        winner.published_at = now or timezone.now()
        winner.save(update_fields=["is_published", "published_at"])
    return winner
