"""Instant wins after close: the revealed list and its checks (docs/architecture.md §4, item 6).

At activation the instant-win numbers were chosen from the seed and a salted commitment to
their sorted list published (`draws.receivers.commit_to_instant_wins`). They stay secret until
won; once entries close (the ledger is frozen, or the competition is drawn or cancelled) the
list and salt are revealed here, and after the draw the revealed seed reproduces the list.
The public draw page, `GET /api/draws/<id>`, `manage.py verify_draw` and the published script
(`draws/static/draws/verify_draw.py`, `check_instant_wins`) all check the same things.
"""

from competitions.lifecycle import FINAL
from competitions.models import Competition, InstantWin, Prize
from tickets.models import Ticket

from . import fairness
from .models import Draw
from .verification import Check


def instant_wins_revealed(competition: Competition, draw: Draw | None) -> bool:
    """Whether the list may be public: no more sales can hold a number."""
    if not competition.instant_wins_commitment:
        return False
    return competition.status in FINAL or (draw is not None and draw.ledger_frozen_at is not None)


def _prizes_with_numbers(competition: Competition) -> list[tuple[Prize, list[InstantWin]]]:
    prizes = list(competition.prizes.filter(kind=Prize.Kind.INSTANT).order_by("id"))
    rows: dict[int, list[InstantWin]] = {p.pk: [] for p in prizes}
    for instant_win in InstantWin.objects.filter(competition=competition).order_by("number"):
        rows.setdefault(instant_win.prize_id, []).append(instant_win)
    return [(p, rows[p.pk]) for p in prizes]


def instant_wins_public(competition: Competition, draw: Draw | None) -> dict | None:
    """What anyone may know of a competition's instant wins now (the API's `instantWins`):
    always the commitment, the counts and the won numbers; the full list and salt once
    revealed."""
    if not competition.instant_wins_commitment:
        return None
    revealed = instant_wins_revealed(competition, draw)
    prizes = _prizes_with_numbers(competition)
    winners = {
        w.instant_win_id: w
        for w in competition.winners.filter(instant_win__isnull=False).select_related("ticket")
    }
    return {
        "commitment": competition.instant_wins_commitment,
        "revealed": revealed,
        "salt": competition.instant_wins_salt if revealed else None,
        "maxTickets": competition.max_tickets,
        "numbers": sorted(w.number for _, wins in prizes for w in wins) if revealed else None,
        "prizes": [
            {
                "title": prize.title,
                "value": f"{prize.value:.2f}",
                "count": prize.quantity,
                "won": sum(1 for w in wins if w.won_at),
                "numbers": [w.number for w in wins] if revealed else None,
            }
            for prize, wins in prizes
        ],
        "won": [
            {
                "prizeTitle": prize.title,
                "ticketNumber": w.number,
                "displayName": winners[w.pk].display_name
                if w.pk in winners and winners[w.pk].is_published
                else None,
                # Its ticket was refunded, or its winner rejected: the number stays won, the
                # prize is not awarded again.
                "void": w.voided_at is not None,
                "voidReason": w.get_void_reason_display() if w.voided_at else None,
            }
            for prize, wins in prizes
            for w in wins
            if w.won_at
        ],
    }


def verify_instant_wins(draw: Draw) -> list[Check]:
    """Recompute the revealed instant-win list: its commitment, and once the seed is revealed
    the numbers themselves and which prize each belongs to; that every won number went to
    the ticket holding it; and that a void win never stands and is void for its published
    reason: one void as refunded is on a refunded ticket, one void as its winner not eligible
    was rejected by staff. Nothing before the list is revealed (it would give it away)."""
    competition = draw.competition
    if not instant_wins_revealed(competition, draw):
        return []
    prizes = _prizes_with_numbers(competition)
    numbers = [w.number for _, wins in prizes for w in wins]
    salt = competition.instant_wins_salt
    actual = fairness.instant_wins_commitment(numbers, salt)
    checks = [
        Check(
            "Instant-win list matches its commitment: SHA-256(salt, numbers ascending)",
            actual == competition.instant_wins_commitment,
            competition.instant_wins_commitment,
            actual,
        )
    ]
    if draw.is_done and draw.seed:
        try:
            derived = fairness.instant_win_numbers(
                seed=draw.seed,
                max_tickets=competition.max_tickets,
                count=sum(p.quantity for p, _ in prizes),
            )
        except ValueError as error:
            return [*checks, Check("Instant-win numbers can be recomputed", False, "", str(error))]
        checks.append(
            Check(
                "Instant-win numbers recomputed from the revealed seed",
                sorted(derived) == sorted(numbers),
                ", ".join(map(str, sorted(derived))),
                ", ".join(map(str, sorted(numbers))),
            )
        )
        position, placed = 0, True
        for prize, wins in prizes:
            expected = sorted(derived[position : position + prize.quantity])
            placed = placed and expected == sorted(w.number for w in wins)
            position += prize.quantity
        checks.append(Check("Each instant prize holds the numbers the seed gives it", placed))
    winners = list(
        competition.winners.filter(instant_win__isnull=False).select_related(
            "ticket", "instant_win"
        )
    )
    won = {w.pk for _, wins in prizes for w in wins if w.won_at}
    right = all(
        w.ticket.number == w.instant_win.number
        and w.ticket.competition_id == competition.pk
        and w.prize_id == w.instant_win.prize_id
        for w in winners
    )
    checks.append(
        Check(
            "Every instant win went to the ticket holding its number, once",
            right and {w.instant_win_id for w in winners} == won and len(winners) == len(won),
            f"{len(won)} won",
            f"{len(winners)} winners",
        )
    )
    void = [w for w in winners if w.instant_win.voided_at is not None]
    refunded = [w for w in void if w.instant_win.void_reason == InstantWin.VoidReason.REFUNDED]
    if refunded:
        # A win void as refunded is on a refunded ticket, and never stands: the operator
        # cannot take a prize off a ticket that stays entered by calling it refunded.
        wrong = [
            f"#{w.ticket.number}"
            for w in refunded
            if w.ticket.status != Ticket.Status.REFUNDED or w.verification_status != "rejected"
        ]
        checks.append(
            Check(
                "Every void instant win's ticket was refunded (the number stays won, the prize "
                "is not awarded again)",
                not wrong,
                f"{len(refunded)} void, each on a refunded ticket",
                ", ".join(wrong) or "as expected",
            )
        )
    ineligible = [w for w in void if w not in refunded]
    if ineligible:
        # Any other void win says so in public ("the winner was not eligible") and its winner
        # was rejected: a win cannot be taken away quietly, nor void while its winner stands.
        wrong = [
            f"#{w.ticket.number}"
            for w in ineligible
            if w.instant_win.void_reason != InstantWin.VoidReason.INELIGIBLE
            or w.verification_status != "rejected"
        ]
        checks.append(
            Check(
                "Every instant win void because its winner was not eligible has its winner "
                "rejected, in public (the number stays won, the prize is not awarded again)",
                not wrong,
                f"{len(ineligible)} void, each winner rejected",
                ", ".join(wrong) or "as expected",
            )
        )
    return checks
