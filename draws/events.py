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


# --- every entrant (tickets.entrants broadcasts, registered in DrawsConfig.ready) ------------


def competition_extended_notices(broadcast):
    """ "Extended to <date> because the minimum of N tickets was not reached"."""
    from competitions.models import MinimumOutcomeRecord
    from notifications.models import Notification
    from notifications.outbox import local_time
    from tickets.events import entrant_notice

    competition = broadcast.competition
    record = MinimumOutcomeRecord.objects.get(pk=broadcast.context["record"])
    body = (
        f"\u201c{competition.title}\u201d now closes {local_time(record.new_ends_at)}, because "
        f"the minimum of {record.min_tickets} tickets was not reached. Your tickets stay in "
        "the draw; nothing else changes."
    )

    def build(user):
        return entrant_notice(
            kind=Notification.Kind.COMPETITION_EXTENDED,
            user=user,
            competition=competition,
            subject_key=broadcast.subject,
            subject=f"Extended: {competition.title}",
            body=body,
            link=competition.get_absolute_url(),
        )

    return build, ()


def competition_drawn_notices(broadcast):
    """The result of the draw, to every entrant who did not win: winners already have their
    own message ("you won", winners.events), so they do not get this one too."""
    from notifications.models import Notification
    from tickets.events import entrant_notice

    from .models import Draw

    competition = broadcast.competition
    draw = Draw.objects.get(pk=broadcast.context["draw"])
    winners = list(draw.winners.select_related("ticket").order_by("prize__position"))
    numbers = ", ".join(f"#{w.ticket.number}" for w in winners)
    body = (
        f"The draw for \u201c{competition.title}\u201d has taken place. Winning "
        f"ticket{'s' if len(winners) != 1 else ''}: {numbers}. Your tickets did not win this "
        "time. Anyone can check the draw was fair:"
    )

    def build(user):
        return entrant_notice(
            kind=Notification.Kind.COMPETITION_RESULT,
            user=user,
            competition=competition,
            subject_key="result",
            subject=f"Draw result: {competition.title}",
            body=body,
            link=f"/competitions/{competition.slug}/draw/",
        )

    return build, {w.user_id for w in winners}


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
