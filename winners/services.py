"""State changes of a winner, one transaction each, each writing its own audit entry.

A winner is recorded when a draw picks them (`winners_record`, called through the draws
hook `draws.signals.prizes_won`), then verified (`winner_approve` / `winner_reject`),
announced, published to Champions (`winner_publish` / `winner_hide`) and delivered to."""

from django.db import transaction
from django.utils import timezone

from competitions.models import InstantWin
from core.audit import audit_record, audit_snapshot
from tickets.instant_wins import delivered_to

from .exceptions import NotApproved, WinnerError
from .models import Winner

AUDITED = (
    "verification_status",
    "verified_at",
    "verified_by",
    "is_published",
    "published_at",
    "announced_at",
    "prize_delivered_at",
)
# The public write-up staff edit by hand; everything else comes from the draw or a service.
WRITE_UP = ("display_name", "location", "announcement", "photo", "video")


def winners_record(*, competition, draw, picks) -> list[Winner]:
    """One winner per (prize, ledger index, ticket) the draw picked, in prize order. Runs in
    the draw's transaction (the draw logs and audits itself); the announcement is a draft
    staff edit before sending. Each winner is told at once ("you won"), through the outbox."""
    from .events import winner_announced

    winners = [
        Winner.objects.create(
            competition=competition,
            prize=prize,
            draw=draw,
            ticket=ticket,
            user=ticket.user,
            ledger_index=index,
            display_name=ticket.user.public_name,
            announcement=(
                f"Congratulations to {ticket.user.public_name}, winner of {prize.title} "
                f"with ticket #{ticket.number}!"
            ),
        )
        for prize, index, ticket in picks
    ]
    for winner in winners:
        winner_announced(winner)
    return winners


def instant_winners_record(*, wins, now=None) -> list[Winner]:
    """One winner per instant win a sale's ticket holds (called through the tickets hook
    `tickets.signals.instant_wins_won`, in the sale's transaction, after the number was marked
    won). Like a draw winner it awaits verification; the customer is told at once."""
    from .events import instant_win_announced

    winners = []
    for instant_win, ticket in wins:
        prize = instant_win.prize
        winners.append(
            Winner.objects.create(
                competition_id=instant_win.competition_id,
                prize=prize,
                instant_win=instant_win,
                ticket=ticket,
                user=ticket.user,
                display_name=ticket.user.public_name,
                announcement=(
                    f"Congratulations to {ticket.user.public_name}, instant winner of "
                    f"{prize.title} with ticket #{ticket.number}!"
                ),
            )
        )
    for winner in winners:
        audit_record(
            actor=None,
            action="winner.instant",
            obj=winner,
            after={"prize": winner.prize.title, "ticket": winner.ticket.number},
        )
        instant_win_announced(winner)
    return winners


def instant_wins_void(*, ticket_ids, reason: str, by=None, now=None) -> list:
    """The instant wins of these tickets are void: they were refunded (called through the
    tickets hook `tickets.signals.instant_win_tickets_refunded`, in the refund's transaction).

    Each standing instant winner of one of them is rejected, as a disqualified winner is (off
    Champions, never announced again), with the reason in the audit log, and told by e-mail
    and SMS; the number's win is marked void (`InstantWin.voided_at`, "the ticket was
    refunded"). The number stays won: the prize is not awarded again, and a later buyer of the
    number wins nothing (it was published as won). A winner staff had already rejected has a
    void win already (`winner_reject`): nothing changes. Returns the instant wins voided."""
    from .events import instant_win_voided

    now = now or timezone.now()
    winners = list(
        Winner.objects.select_for_update(of=("self",))
        .filter(instant_win__isnull=False, ticket_id__in=list(ticket_ids))
        .select_related("competition", "prize", "ticket", "user", "instant_win")
        .order_by("pk")
    )
    voided = []
    for winner in winners:
        if winner.verification_status == Winner.Verification.REJECTED:
            continue  # already rejected by staff: nothing to take back, nobody to tell
        before = audit_snapshot(winner, AUDITED)
        _mark_rejected(winner, by=by if getattr(by, "pk", None) else None, now=now)
        _void_instant_win(winner, reason=InstantWin.VoidReason.REFUNDED, now=now)
        _audit(winner, by=by, action="winner.void", before=before, note=reason + _delivered(winner))
        instant_win_voided(winner, reason=reason)
        voided.append(winner.instant_win)
    return voided


def _void_instant_win(winner: Winner, *, reason: str, now) -> bool:
    """Mark the winner's instant win void for this public reason, unless it already is (the
    first reason stands); False if it was. The caller holds the winner's row lock, which every
    path that voids a win takes first."""
    instant_win = winner.instant_win
    changed = InstantWin.objects.filter(pk=instant_win.pk, voided_at__isnull=True).update(
        voided_at=now, void_reason=reason
    )
    if changed:
        instant_win.voided_at, instant_win.void_reason = now, reason
    return bool(changed)


def _delivered(winner: Winner) -> str:
    """For the audit note: the prize already went out, so someone has to get it back."""
    if winner.prize_delivered_at is None:
        return ""
    return (
        f" The prize ({winner.prize.title}) had already been "
        f"{delivered_to(winner.display_name, winner.prize_delivered_at)}: recover it separately."
    )


def _audit(winner, *, by, action: str, before: dict, note: str = "") -> None:
    audit_record(
        actor=by,
        action=action,
        obj=winner,
        before=before,
        after=audit_snapshot(winner, AUDITED),
        note=note,
    )


def _locked(winner: Winner) -> tuple[Winner, dict]:
    winner = (
        Winner.objects.select_for_update()
        .select_related("competition", "prize", "ticket", "user")
        .get(pk=winner.pk)
    )
    return winner, audit_snapshot(winner, AUDITED)


@transaction.atomic
def winner_approve(*, winner: Winner, by=None, now=None) -> Winner:
    """The winner passed verification (age, identity, eligibility). Refused for an instant
    winner whose win is void (the ticket was refunded, or staff rejected the winner): the
    competition page shows it void and the prize is not awarded again, so it stays void."""
    winner, before = _locked(winner)
    if winner.is_instant and winner.instant_win.voided_at is not None:
        raise WinnerError(
            f"Ticket #{winner.ticket.number}'s instant win is void "
            f"({winner.instant_win.get_void_reason_display()}) and is shown as void on the "
            "competition page; a void win is never reinstated, so this winner cannot be "
            "approved."
        )
    winner.verification_status = Winner.Verification.APPROVED
    winner.verified_at = now or timezone.now()
    winner.verified_by = by
    winner.save(update_fields=["verification_status", "verified_at", "verified_by"])
    _audit(winner, by=by, action="winner.approve", before=before)
    return winner


@transaction.atomic
def winner_publish(*, winner: Winner, by=None, now=None) -> Winner:
    """Show a winner on the Champions page (approved winners only)."""
    winner, before = _locked(winner)
    if winner.verification_status != Winner.Verification.APPROVED:
        raise NotApproved("Approve the winner before publishing them to Champions.")
    if not winner.is_published:
        winner.is_published = True
        winner.published_at = now or timezone.now()
        winner.save(update_fields=["is_published", "published_at"])
        _audit(winner, by=by, action="winner.publish", before=before)
    return winner


@transaction.atomic
def winner_edit(*, winner: Winner, by, fields) -> Winner:
    """Save staff's edits of the public write-up (`winner` carries the new values; `fields`
    names the changed ones). Who won, and the verification steps, are never edited here."""
    fields = list(fields)
    if refused := [name for name in fields if name not in WRITE_UP]:
        raise WinnerError(f"Only the write-up can be edited, not {', '.join(refused)}.")
    stored, _ = _locked(winner)
    before = {name: str(getattr(stored, name)) for name in fields}
    winner.save(update_fields=fields)
    audit_record(
        actor=by,
        action="winner.edit",
        obj=winner,
        before=before,
        after={name: str(getattr(winner, name)) for name in fields},
    )
    return winner


@transaction.atomic
def winner_reject(*, winner: Winner, by, reason: str, now=None) -> Winner:
    """The winner failed verification (e.g. under 18, excluded, fraud). A rejected winner is
    never published; a published one is taken off Champions.

    An instant winner's win becomes void in the same transaction ("the winner was not
    eligible", on the competition page and in the draw API; the staff reason stays in the audit
    log): the number stays won and the prize is not awarded again, as when its ticket is
    refunded (docs/architecture.md §4, item 6). A draw prize is redrawn instead
    (`winner_disqualify`)."""
    if not (reason or "").strip():
        raise WinnerError("Say why the winner is rejected.")
    now = now or timezone.now()
    winner, before = _locked(winner)
    if winner.verification_status == Winner.Verification.REJECTED and winner.is_instant:
        raise WinnerError(
            f"Ticket #{winner.ticket.number}'s instant winner is already rejected and the win void."
        )
    _mark_rejected(winner, by=by, now=now)
    note = reason
    if winner.is_instant and _void_instant_win(
        winner, reason=InstantWin.VoidReason.INELIGIBLE, now=now
    ):
        note += (
            f" Instant win on ticket #{winner.ticket.number} void: the prize is not awarded "
            "again." + _delivered(winner)
        )
    _audit(winner, by=by, action="winner.reject", before=before, note=note)
    return winner


def _mark_rejected(winner: Winner, *, by, now) -> None:
    """Rejected as of `now` by `by`, and off Champions (a rejected winner is never published)."""
    winner.verification_status = Winner.Verification.REJECTED
    winner.verified_at = now
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


@transaction.atomic
def winner_disqualify(
    *, winner: Winner, by, reason: str, detail: str, redraw: bool = True, now=None
) -> Winner:
    """Disqualify a winner (failed age or identity check, no reply by the deadline, …) for a
    recorded reason, and have their prize drawn again from the same frozen ledger with the next
    announced beacon round, excluding every earlier winner of the competition
    (`draws.services.redraw_announce`; with one prize per customer the redraw also skips every
    entry of those winners' customers, this one's included). Both steps audited; the redraw is
    public."""
    from draws.models import Redraw
    from draws.services import redraw_announce

    detail = (detail or "").strip()
    if reason not in Redraw.Reason.values or not detail:
        raise WinnerError("Choose a reason and describe it: both are published on the draw page.")
    winner, _before = _locked(winner)
    if winner.verification_status == Winner.Verification.REJECTED:
        raise WinnerError("This winner has already been disqualified.")
    shown_name = winner.display_name if winner.is_published else ""
    label = Redraw.Reason(reason).label
    winner = winner_reject(winner=winner, by=by, reason=f"{label}: {detail}", now=now)
    if redraw and winner.draw_id is not None and winner.ledger_index is not None:
        excluded = Winner.objects.filter(
            competition_id=winner.competition_id, ledger_index__isnull=False
        ).values_list("ledger_index", flat=True)
        redraw_announce(
            competition=winner.competition,
            prize=winner.prize,
            disqualified_ticket=winner.ticket,
            disqualified_index=winner.ledger_index,
            disqualified_name=shown_name,
            excluded_indexes=list(excluded),
            reason=reason,
            detail=detail,
            by=by,
            now=now,
        )
    return winner
