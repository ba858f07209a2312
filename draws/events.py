"""What operators hear about draws: one that completed (with its winners), one that failed.

The winners themselves hear from winners.events. Alerts go through the outbox
(notifications.outbox.admin_alert), once per key."""

import hashlib

from notifications.outbox import absolute_url, admin_alert


def draw_completed(draw) -> None:
    """A draw finished (call it in the draw's transaction)."""
    competition = draw.competition
    winners = list(draw.winners.select_related("prize", "ticket", "user"))
    lines = [
        f"- {w.prize.title}: ticket #{w.ticket.number} ({w.user.get_full_name()}, {w.user.email})"
        for w in winners
    ] or ["No valid entries, so nobody won. The competition is marked drawn with no winner."]
    admin_alert(
        subject=(
            f"Draw completed: {competition.title}"
            if winners
            else f"Closed without a winner: {competition.title}"
        ),
        message=(
            f"The draw for \u201c{competition.title}\u201d is done "
            f"({draw.get_mode_display() or 'draw'}, {draw.entry_count} entries).\n"
            + "\n".join(lines)
            + f"\n\nVerification: {absolute_url(f'/competitions/{competition.slug}/draw/')}"
        ),
        key=f"draw-completed-{draw.pk}",
    )


def draw_failed(competition, *, error: str) -> None:
    """A draw attempt failed. Call it outside the failed draw's (rolled back) transaction; the
    same error for the same competition alerts once, however often the draw is retried."""
    digest = hashlib.sha256(str(error).encode()).hexdigest()[:16]
    admin_alert(
        subject=f"Draw failed: {competition.title}",
        message=(
            f"The draw for \u201c{competition.title}\u201d failed and nothing was saved:\n"
            f"{error}\n\nIt will be retried automatically when due; "
            f"`manage.py draw {competition.slug}` runs it by hand."
        ),
        key=f"draw-failed-{competition.pk}-{digest}",
    )


def redraw_completed(redraw) -> None:
    """A disqualified winner's prize was drawn again (call it in the redraw's transaction)."""
    competition = redraw.competition
    ticket = redraw.new_ticket
    admin_alert(
        subject=f"Redraw completed: {competition.title}",
        message=(
            f"{redraw.prize.title} of \u201c{competition.title}\u201d was drawn again (redraw "
            f"{redraw.sequence}, {redraw.get_reason_display()}): ticket #{ticket.number} "
            f"({ticket.user.get_full_name()}, {ticket.user.email}).\n\n"
            f"Verification: {absolute_url(f'/competitions/{competition.slug}/draw/')}"
        ),
        key=f"redraw-completed-{redraw.pk}",
    )
