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


# ---------------------------------------------------------------- back-office (audited)

AUDITED = (
    "verification_status",
    "verified_at",
    "verified_by",
    "is_published",
    "published_at",
    "announced_at",
    "prize_delivered_at",
)


def _audit(winner, *, by, action: str, before: dict, note: str = "") -> None:
    from core.audit import audit_record, audit_snapshot

    audit_record(
        actor=by,
        action=action,
        obj=winner,
        before=before,
        after=audit_snapshot(winner, AUDITED),
        note=note,
    )


def _locked(winner: Winner) -> tuple[Winner, dict]:
    from core.audit import audit_snapshot

    winner = (
        Winner.objects.select_for_update()
        .select_related("competition", "prize", "ticket", "user")
        .get(pk=winner.pk)
    )
    return winner, audit_snapshot(winner, AUDITED)


@transaction.atomic
def winner_reject(*, winner: Winner, by, reason: str, now=None) -> Winner:
    """The winner failed verification (e.g. under 18, fraud). A rejected winner is never
    published; a published one is taken off Champions."""
    from .exceptions import WinnerError

    if not (reason or "").strip():
        raise WinnerError("Say why the winner is rejected.")
    winner, before = _locked(winner)
    winner.verification_status = Winner.Verification.REJECTED
    winner.verified_at = now or timezone.now()
    winner.verified_by = by
    winner.is_published = False
    winner.published_at = None
    winner.save(
        update_fields=[
            "verification_status",
            "verified_at",
            "verified_by",
            "is_published",
            "published_at",
        ]
    )
    _audit(winner, by=by, action="winner.reject", before=before, note=reason)
    return winner


@transaction.atomic
def winner_hide(*, winner: Winner, by, note: str = "") -> Winner:
    """Take a winner off the Champions page."""
    winner, before = _locked(winner)
    winner.is_published = False
    winner.published_at = None
    winner.save(update_fields=["is_published", "published_at"])
    _audit(winner, by=by, action="winner.hide", before=before, note=note)
    return winner


@transaction.atomic
def winner_mark_delivered(*, winner: Winner, by, now=None) -> Winner:
    """Record delivery and tell the winner ("Prize Delivered"). Once only."""
    from .events import prize_delivered
    from .exceptions import WinnerError

    winner, before = _locked(winner)
    if winner.verification_status != Winner.Verification.APPROVED:
        raise WinnerError("Approve the winner before marking the prize delivered.")
    if winner.prize_delivered_at is not None:
        raise WinnerError("The prize is already marked delivered.")
    winner.prize_delivered_at = now or timezone.now()
    winner.save(update_fields=["prize_delivered_at"])
    prize_delivered(winner)
    _audit(winner, by=by, action="winner.delivered", before=before)
    return winner


@transaction.atomic
def winner_announce(*, winner: Winner, by, now=None) -> Winner:
    """Send the winner their announcement (e-mail, and SMS when they gave a phone number)
    through the outbox. Each send is a new message: after editing the text staff may send
    again, because the idempotency key carries the time of this announcement."""
    from .events import winner_announcement
    from .exceptions import WinnerError

    winner, before = _locked(winner)
    if winner.verification_status == Winner.Verification.REJECTED:
        raise WinnerError("A rejected winner is not announced.")
    if not winner.announcement.strip():
        raise WinnerError("Write the announcement before sending it.")
    winner.announced_at = now or timezone.now()
    winner.save(update_fields=["announced_at"])
    winner_announcement(winner)  # the key carries announced_at: a new send, a new message
    _audit(winner, by=by, action="winner.announce", before=before, note=winner.announcement)
    return winner
