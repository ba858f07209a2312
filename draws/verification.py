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
from .beacon import beacon_for_chain, beacon_label, randomness_of
from .models import Draw, DrawLogEntry, DrawVerification, Redraw
from .selectors import draw_redraws, draw_winners, ledger_owners, ledger_scan


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
    redraws = list(draw_redraws(draw)) if draw.is_done else []
    scan = ledger_scan(
        competition.pk,
        pick=[w.ledger_index for w in winners if w.ledger_index is not None]
        + [r.new_index for r in redraws if r.new_index is not None],
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
    checks += _beacon_checks(draw, needed=not (draw.is_manual and prizes <= 1))
    owner_of = None
    if competition.one_prize_per_customer:
        owner_of, prizes = _owner_rule(competition, draw, checks, prizes)
    try:
        expected_indexes = fairness.winning_indexes(
            seed=draw.seed,
            ledger_hash=draw.ledger_hash,
            entropy=draw.entropy,
            count=draw.entry_count,
            prizes=prizes,
            fixed=fixed,
            owner_of=owner_of,
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
    checks += _redraw_checks(draw, winners, redraws, scan, owner_of=owner_of)
    return checks


def _announced_rounds(competition_id: int) -> list[int]:
    """The rounds the public log announced for the draw, in order (activation, moves)."""
    entries = DrawLogEntry.objects.filter(
        competition_id=competition_id,
        action__in=["beacon_round_announced", "beacon_round_moved"],
    ).order_by("at", "id")
    return [entry.data.get("round") for entry in entries]


def _round_checks(label, *, chain, number, signature, randomness, announced) -> list[Check]:
    provider = beacon_for_chain(chain)
    name = beacon_label(chain)
    actual = randomness_of(signature)
    return [
        Check(
            f"{label}: the beacon round is the one announced in advance ({name})",
            number is not None and number == announced,
            str(announced),
            str(number),
        ),
        Check(
            f"{label}: the round's signature verifies ({name} round {number})",
            provider is not None
            and number is not None
            and provider.signature_ok(number, signature),
            "a valid signature by the beacon's public key",
            signature or "(none)",
        ),
        Check(
            f"{label}: the randomness used is SHA-256(signature)",
            bool(randomness) and randomness == actual,
            actual,
            randomness or "(none)",
        ),
    ]


def _beacon_checks(draw: Draw, *, needed: bool) -> list[Check]:
    competition = draw.competition
    if draw.beacon_round is None:
        # Drawn before draws were bound to a beacon, or a manual entry with nothing random.
        legacy = competition.beacon_round is None or not needed
        return [
            Check(
                "No beacon round needed (a manual 1st prize and no other prize)"
                if not needed
                else "Drawn before draws used a beacon round (entropy given by staff)",
                legacy,
                "no beacon round announced" if needed else "",
                "" if legacy else f"round {competition.beacon_round} announced, none used",
            )
        ]
    announced = _announced_rounds(competition.pk)
    return [
        Check(
            "Beacon round matches the competition's announced round",
            (draw.beacon_chain, draw.beacon_round)
            == (competition.beacon_chain, competition.beacon_round),
            f"{competition.beacon_round}",
            f"{draw.beacon_round}",
        ),
        *_round_checks(
            "Draw",
            chain=draw.beacon_chain,
            number=draw.beacon_round,
            signature=draw.beacon_signature,
            randomness=draw.entropy,
            announced=announced[-1] if announced else None,
        ),
    ]


def _redraw_checks(
    draw: Draw, winners, redraws: list[Redraw], scan, *, owner_of=None
) -> list[Check]:
    """Each redraw recomputed: its reason and round as announced, its exclusions (every
    earlier winner) and its new winning index. `owner_of` (one prize per customer, from the
    owners list recomputed and checked against its hash): every entry of an earlier winner's
    customer, the disqualified one's included, is skipped too."""
    checks: list[Check] = []
    announced = {
        entry.data.get("redraw"): entry.data
        for entry in DrawLogEntry.objects.filter(
            competition_id=draw.competition_id, action="redraw_announced"
        )
    }
    won = {w.ledger_index for w in winners if w.ledger_index is not None}
    for redraw in redraws:
        label = f"Redraw {redraw.sequence} ({ordinal(redraw.prize.position)} prize)"
        published = announced.get(redraw.pk, {})
        checks.append(
            Check(
                f"{label}: a reason was recorded and published when the winner was disqualified",
                bool(redraw.reason_detail)
                and published.get("detail") == redraw.reason_detail
                and published.get("disqualified_index") == redraw.disqualified_index
                and redraw.disqualified_index in won,
                f"{published.get('reason')}: {published.get('detail')} (index "
                f"{published.get('disqualified_index')}, a winning index)",
                f"{redraw.reason}: {redraw.reason_detail} (index {redraw.disqualified_index})",
            )
        )
        if redraw.status == Redraw.Status.PENDING:
            checks.append(
                Check(
                    f"{label}: waiting for beacon round {redraw.beacon_round}, announced in advance",
                    published.get("round") == redraw.beacon_round,
                    str(published.get("round")),
                    str(redraw.beacon_round),
                )
            )
            continue
        checks += _round_checks(
            label,
            chain=redraw.beacon_chain,
            number=redraw.beacon_round,
            signature=redraw.beacon_signature,
            randomness=redraw.randomness,
            announced=published.get("round"),
        )
        expected_excluded = sorted(won)
        checks.append(
            Check(
                f"{label}: every earlier winner is excluded",
                sorted(redraw.excluded_indexes) == expected_excluded,
                str(expected_excluded),
                str(sorted(redraw.excluded_indexes)),
            )
        )
        expected = fairness.redraw_index(
            seed=draw.seed,
            ledger_hash=draw.ledger_hash,
            entropy=redraw.randomness,
            count=draw.entry_count,
            prize=redraw.prize.position,
            excluded=expected_excluded,
            owner_of=owner_of,
        )
        skipping = "earlier winners' customers" if owner_of else "earlier winners"
        checks.append(
            Check(
                f"{label}: new winning index from HMAC-SHA256(seed, ledger hash|randomness|"
                f"{redraw.prize.position}|…), skipping {skipping}",
                expected == redraw.new_index,
                str(expected),
                str(redraw.new_index),
            )
        )
        if owner_of is not None and redraw.new_index is not None:
            barred = {owner_of(i) for i in won if 0 <= i < draw.entry_count}
            label_won = (
                owner_of(redraw.new_index) if 0 <= redraw.new_index < draw.entry_count else None
            )
            checks.append(
                Check(
                    f"{label}: one prize per customer: the new winner is not the customer of an "
                    "earlier winner (the disqualified one included)",
                    label_won is not None and label_won not in barred,
                    "an owner label not in " + ", ".join(map(str, sorted(barred))),
                    str(label_won),
                )
            )
        if redraw.new_index is not None:
            at_index = scan.picked.get(redraw.new_index)
            checks.append(
                Check(
                    f"{label}: the new winning ticket is at that index in the ledger",
                    at_index is not None and at_index[0] == redraw.new_ticket_id,
                    f"#{at_index[1]}" if at_index else "(index outside the ledger)",
                    f"#{redraw.new_ticket.number if redraw.new_ticket else '—'}",
                )
            )
            won.add(redraw.new_index)
    return checks


def _owner_rule(competition, draw: Draw, checks: list[Check], prizes: int):
    """One prize per customer: the owners list recomputed from the tickets must be the one
    committed at the freeze; the winners must then follow the owner rule with it. Returns
    (owner_of, prizes capped at the number of owners) and adds the checks."""
    owners = ledger_owners(competition.pk)
    checks.append(
        Check(
            "One prize per customer: owners list recomputed from the tickets matches its "
            "published hash",
            owners.owners_hash == draw.owners_hash,
            draw.owners_hash,
            owners.owners_hash,
        )
    )
    winners = list(draw_winners(draw))
    labels = [
        owners.labels[w.ledger_index]
        for w in winners
        if w.ledger_index is not None and w.ledger_index < owners.count
    ]
    checks.append(
        Check(
            "One prize per customer: no owner label wins twice",
            len(labels) == len(set(labels)),
            "distinct owner labels",
            ", ".join(map(str, labels)),
        )
    )
    return owners.labels.__getitem__, min(prizes, owners.owner_count)


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
    """`verify_draw` and the instant-win checks, the outcome kept for the figures (How we
    comply, the staff report)."""
    from .instant_wins import verify_instant_wins  # it builds on this module's Check

    checks = verify_draw(draw) + verify_instant_wins(draw)
    verification_record(draw, checks, now)
    return checks
