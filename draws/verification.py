"""Re-checking a draw from its published data and the database (docs/architecture.md §4, step 5).

`verify_draw` is what `manage.py verify_draw`, the admin's "Re-verify", the public draw page,
the API and the tests run. It recomputes everything from the revealed seed, the entry ledger
as the database holds it now and the published entropy; it trusts nothing stored on the draw
except as the value to compare against. The same recipe is in the stdlib-only script anyone
can download (`draws/static/draws/verify_draw.py`).
"""

import hashlib
from dataclasses import dataclass

from django.utils import timezone

from competitions.models import Prize, ordinal
from tickets.models import Ticket

from . import fairness
from .models import Draw, DrawVerification
from .selectors import draw_winners, ledger_scan


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    expected: str = ""
    actual: str = ""


def _commitment_of(seed: str) -> str:
    try:
        raw = bytes.fromhex(seed)
    except ValueError:
        return "(not a hex seed)"
    return hashlib.sha256(raw).hexdigest() if len(raw) == 32 else "(not a 32-byte seed)"


def verify_draw(draw: Draw) -> list[Check]:
    competition = draw.competition
    checks = [
        Check(
            "Commitment is the one published at activation",
            draw.seed_commitment == competition.seed_commitment,
            competition.seed_commitment,
            draw.seed_commitment,
        )
    ]
    if draw.is_done:
        actual = _commitment_of(draw.seed)
        checks.append(
            Check(
                "Revealed seed matches the commitment: SHA-256(seed)",
                actual == draw.seed_commitment,
                draw.seed_commitment,
                actual,
            )
        )
    winners = list(draw_winners(draw)) if draw.is_done else []
    scan = ledger_scan(
        competition.pk, pick=[w.ledger_index for w in winners if w.ledger_index is not None]
    )
    checks += [
        Check(
            "Entry ledger recomputed from the tickets matches its published hash",
            scan.ledger_hash == draw.ledger_hash,
            draw.ledger_hash,
            scan.ledger_hash,
        ),
        Check(
            "Entry count",
            scan.count == draw.entry_count,
            str(draw.entry_count),
            str(scan.count),
        ),
    ]
    if not draw.is_done:
        return checks
    if draw.status == Draw.Status.NO_ENTRIES:
        checks.append(
            Check(
                "No valid entries, so no winner",
                draw.entry_count == 0 and not winners and draw.winning_ticket_id is None,
                "0 entries, no winner",
                f"{draw.entry_count} entries, {len(winners)} winners",
            )
        )
        return checks

    fixed: tuple[int, ...] = ()
    if draw.is_manual:
        first = winners[0] if winners else None
        ticket = first.ticket if first else None
        valid = (
            ticket is not None
            and ticket.competition_id == competition.pk
            and ticket.status == Ticket.Status.ACTIVE
            and scan.picked.get(first.ledger_index, (None,))[0] == ticket.pk
            and bool(draw.manual_reason)
        )
        checks.append(
            Check(
                "Manual winner entry: 1st prize chosen by staff, not drawn at random",
                valid,
                "a valid ticket of this competition, with a reason",
                f"ticket #{ticket.number} – {draw.manual_reason}" if ticket else "no winner",
            )
        )
        if first is not None and first.ledger_index is not None:
            fixed = (first.ledger_index,)

    prizes = competition.prizes.filter(kind=Prize.Kind.DRAW).count()
    try:
        expected_indexes = fairness.winning_indexes(
            seed=draw.seed,
            ledger_hash=draw.ledger_hash,
            entropy=draw.entropy,
            count=draw.entry_count,
            prizes=prizes,
            fixed=fixed,
        )
    except ValueError as error:  # a seed that is not hex, a fixed index off the ledger
        checks.append(Check("Winning indexes can be recomputed", False, "", str(error)))
        return checks
    checks.append(
        Check(
            "One winner per draw prize (or per entry, if fewer)",
            len(winners) == len(expected_indexes),
            str(len(expected_indexes)),
            str(len(winners)),
        )
    )
    for k, winner in enumerate(winners, start=1):
        label = f"{ordinal(winner.prize.position)} prize"
        if not (draw.is_manual and k == 1):
            expected = expected_indexes[k - 1] if k <= len(expected_indexes) else None
            checks.append(
                Check(
                    f"{label}: winning index from HMAC-SHA256(seed, ledger hash|entropy|{k}|…)",
                    expected == winner.ledger_index,
                    str(expected),
                    str(winner.ledger_index),
                )
            )
        at_index = scan.picked.get(winner.ledger_index)
        checks.append(
            Check(
                f"{label}: the winning ticket is at that index in the ledger",
                at_index is not None and at_index[0] == winner.ticket_id,
                f"#{at_index[1]}" if at_index else "(index outside the ledger)",
                f"#{winner.ticket.number}",
            )
        )
    headline = winners[0] if winners else None
    checks.append(
        Check(
            "Headline result is the 1st prize winner",
            headline is not None
            and draw.winning_index == headline.ledger_index
            and draw.winning_ticket_id == headline.ticket_id,
            f"index {headline.ledger_index}, ticket #{headline.ticket.number}" if headline else "",
            f"index {draw.winning_index}, ticket "
            f"#{draw.winning_ticket.number if draw.winning_ticket else '—'}",
        )
    )
    return checks


def all_ok(checks: list[Check]) -> bool:
    return all(check.ok for check in checks)


def verification_record(draw: Draw, checks: list[Check], now=None) -> None:
    """Keep the outcome of a full run of the checks on `draw` (models.DrawVerification): the
    last run replaces the one before."""
    DrawVerification.objects.update_or_create(
        draw=draw,
        defaults={
            "checked_at": now or timezone.now(),
            "passed": all_ok(checks),
            "checks": len(checks),
            "failed": [check.name for check in checks if not check.ok],
            "performed_at": draw.performed_at,
        },
    )


def verify_and_record(draw: Draw, now=None) -> list[Check]:
    """`verify_draw`, its outcome kept for the figures (How we comply, the staff report)."""
    checks = verify_draw(draw)
    verification_record(draw, checks, now)
    return checks
