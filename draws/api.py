"""`GET /api/draws/<competitionId>`: a competition's draw result and everything needed to
verify it. Before the draw: the commitment and, once entries close, the frozen ledger; the
seed is null until the draw reveals it. Drafts and unknown ids are 404."""

from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from competitions.models import Competition

from .beacon import beacon_for_chain
from .instant_wins import instant_wins_public
from .selectors import beacon_public, draw_for, draw_redraws, draw_winners
from .views import live_checks


def _utc(moment):
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _beacon(beacon: dict | None) -> dict | None:
    """The announced round from activation on; its signature and randomness once drawn."""
    if beacon is None:
        return None
    return {
        "chain": beacon["chain"],
        "round": beacon["round"],
        "expectedAt": _utc(beacon["expected_at"]),
        "randomness": beacon["randomness"],
        "signature": beacon["signature"],
        "scheme": beacon["scheme"],
        "publicKey": beacon["public_key"],
        "demo": beacon["demo"],
        # The round published at activation (or moved by the same rule with the close).
        "announcedRound": beacon["announced_round"],
    }


def _redraw(redraw) -> dict:
    """A disqualified winner's prize drawn again: who (as the site shows winners), why, the
    announced round and, once done, its proof and the new winning ticket."""
    done = redraw.status != redraw.Status.PENDING
    provider = beacon_for_chain(redraw.beacon_chain)
    return {
        "sequence": redraw.sequence,
        "status": redraw.status,
        "prizePosition": redraw.prize.position,
        "disqualifiedTicketNumber": redraw.disqualified_ticket.number,
        "disqualifiedLedgerIndex": redraw.disqualified_index,
        "disqualifiedDisplayName": redraw.disqualified_name or None,
        "reason": redraw.reason,
        "reasonLabel": redraw.get_reason_display(),
        "reasonDetail": redraw.reason_detail,
        "announcedAt": _utc(redraw.announced_at),
        "excludedIndexes": redraw.excluded_indexes,
        "beacon": {
            "chain": redraw.beacon_chain,
            "round": redraw.beacon_round,
            "randomness": redraw.randomness if done else None,
            "signature": redraw.beacon_signature if done else None,
            "demo": redraw.beacon_demo if done else None,
            "publicKey": provider.public_key if provider else None,
        },
        "performedAt": _utc(redraw.performed_at),
        "ledgerIndex": redraw.new_index,
        "ticketNumber": redraw.new_ticket.number if redraw.new_ticket_id else None,
    }


@require_GET
def draw_detail(request, competition_id):
    competition = Competition.objects.public().filter(pk=competition_id).first()
    if competition is None:
        return JsonResponse({"error": "Not found."}, status=404)
    draw = draw_for(competition.pk)
    done = draw is not None and draw.is_done
    frozen = draw is not None and draw.ledger_frozen_at is not None
    winners = list(draw_winners(draw)) if done else []
    first = winners[0] if winners else None
    checks = live_checks(draw) if frozen else []
    slug = competition.slug
    body = {
        "competitionId": competition.pk,
        "competitionStatus": competition.live_status().value,
        "status": draw.status if done else "pending",
        "mode": draw.mode if done else None,
        # The brief's flag: a winner entered by hand is never shown as a random draw.
        "manual": draw.is_manual if done else False,
        "manualReason": draw.manual_reason if done and draw.is_manual else None,
        "performedAt": _utc(draw.performed_at) if done else None,
        "drawAt": _utc(competition.draw_at),
        "seedCommitment": competition.seed_commitment,
        "seed": draw.seed if done else None,
        "ledgerFrozenAt": _utc(draw.ledger_frozen_at) if frozen else None,
        "ledgerHash": draw.ledger_hash if frozen else None,
        "entryCount": draw.entry_count if frozen else None,
        "entropy": draw.entropy if done else None,
        # One prize per customer: the owners list (pseudonymous labels) is committed at close.
        "onePrizePerCustomer": competition.one_prize_per_customer,
        "ownersHash": draw.owners_hash if frozen and draw.owners_hash else None,
        "ownersUrl": (
            request.build_absolute_uri(reverse("draws:owners", args=[slug]))
            if frozen and draw.owners_hash
            else None
        ),
        "winners": [
            {
                "prizePosition": w.prize.position,
                "prizeTitle": w.prize.title,
                "ledgerIndex": w.ledger_index,
                "ticketNumber": w.ticket.number,
                # A name is public once the winner is verified and published.
                "displayName": w.display_name if w.is_published else None,
                "verificationStatus": w.verification_status,
                # The announcement names the winner: public once it was sent and published.
                "announcement": w.announcement if w.announced_at and w.is_published else None,
                "announcedAt": _utc(w.announced_at),
            }
            for w in winners
        ],
        "winningIndex": first.ledger_index if first else None,
        "winningNumber": first.ticket.number if first else None,
        "ledgerUrl": (
            request.build_absolute_uri(reverse("draws:ledger", args=[slug])) if frozen else None
        ),
        "verifyScriptUrl": request.build_absolute_uri(reverse("draws:verify-script", args=[slug])),
        "pageUrl": request.build_absolute_uri(reverse("draws:detail", args=[slug])),
        "verification": [{"check": c.name, "ok": c.ok} for c in checks],
        "beacon": _beacon(beacon_public(competition, draw)),
        "redraws": [_redraw(r) for r in draw_redraws(draw)] if done else [],
        "instantWins": instant_wins_public(competition, draw),
    }
    response = JsonResponse(body, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "public, max-age=30"
    return response
