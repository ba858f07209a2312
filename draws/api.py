"""`GET /api/draws/<competitionId>`: a competition's draw result and everything needed to
verify it. Before the draw: the commitment and, once entries close, the frozen ledger; the
seed is null until the draw reveals it. Drafts and unknown ids are 404."""

from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from competitions.models import Competition

from .instant_wins import instant_wins_public
from .selectors import draw_for, draw_winners
from .views import live_checks


def _utc(moment):
    return moment.isoformat().replace("+00:00", "Z") if moment else None


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
        "manualReason": draw.manual_reason if done and draw.is_manual else None,
        "performedAt": _utc(draw.performed_at) if done else None,
        "drawAt": _utc(competition.draw_at),
        "seedCommitment": competition.seed_commitment,
        "seed": draw.seed if done else None,
        "ledgerFrozenAt": _utc(draw.ledger_frozen_at) if frozen else None,
        "ledgerHash": draw.ledger_hash if frozen else None,
        "entryCount": draw.entry_count if frozen else None,
        "entropy": draw.entropy if done else None,
        "winners": [
            {
                "prizePosition": w.prize.position,
                "prizeTitle": w.prize.title,
                "ledgerIndex": w.ledger_index,
                "ticketNumber": w.ticket.number,
                # A name is public once the winner is verified and published.
                "displayName": w.display_name if w.is_published else None,
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
        "instantWins": instant_wins_public(competition, draw),
    }
    response = JsonResponse(body, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "public, max-age=30"
    return response
