"""The public draw page (`/competitions/<slug>/draw/`), its ledger download and the
verification script. Before the draw they show the commitment and the frozen ledger, never
the seed; after it, everything needed to check the result independently."""

from pathlib import Path

from django.core.cache import cache
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from competitions.models import Competition, Prize

from .instant_wins import instant_wins_public
from .models import Draw
from .selectors import (
    beacon_public,
    draw_for,
    draw_log,
    draw_redraws,
    draw_winners,
    ledger_chunks,
    owners_chunks,
)
from .verification import Check, verify_and_record

VERIFY_SCRIPT = Path(__file__).resolve().parent / "static" / "draws" / "verify_draw.py"
# Re-checking streams the whole ledger: keep the result briefly rather than per request.
CHECKS_CACHE_SECONDS = 60
# Log entries anyone may read, with wording fit for the public page.
PUBLIC_LOG = {
    "seed_committed": "Seed committed",
    "beacon_round_announced": "Beacon round announced",
    "beacon_round_moved": "Beacon round moved (close changed)",
    "ledger_frozen": "Entry ledger frozen",
    "ledger_unfrozen": "Competition re-opened; ledger to be frozen again",
    "ledger_refrozen": "Entry ledger frozen again",
    "instant_wins_committed": "Instant-win numbers chosen and committed",
    "drawn": "Winners drawn",
    "redraw_announced": "Winner disqualified; redraw announced",
    "redrawn": "Prize redrawn",
    "closed_without_entries": "Closed without a winner",
    "draw_failed": "Draw attempt failed (nothing drawn)",
    "minimum_extend": "Closing extended: minimum not reached",
    "minimum_cancel": "Cancelled: minimum not reached",
    "minimum_draw_anyway": "Minimum not reached: drawn anyway",
}


def live_checks(draw: Draw) -> list[Check]:
    stamp = draw.performed_at or draw.ledger_frozen_at
    redrawn = draw.redraws.exclude(status="pending").count() if draw.is_done else 0
    key = (
        f"draw-checks:{draw.pk}:{draw.status}:{draw.ledger_hash[:16]}:{stamp.timestamp():.0f}"
        f":{redrawn}"
    )
    checks = cache.get(key)
    if checks is None:
        checks = verify_and_record(draw)
        cache.set(key, checks, CHECKS_CACHE_SECONDS)
    return checks


def _competition(slug: str) -> Competition:
    return get_object_or_404(Competition.objects.public(), slug=slug)


def draw_detail(request, slug):
    competition = _competition(slug)
    now = timezone.now()
    draw = draw_for(competition.pk)
    frozen = draw is not None and draw.ledger_frozen_at is not None
    checks = live_checks(draw) if frozen else []
    return render(
        request,
        "draws/detail.html",
        {
            "competition": competition,
            "status": competition.live_status(now),
            "draw": draw,
            "frozen": frozen,
            "winners": list(draw_winners(draw)) if draw and draw.is_done else [],
            "prize_count": competition.prizes.filter(kind=Prize.Kind.DRAW).count(),
            "checks": checks,
            "checks_ok": all(check.ok for check in checks),
            "log": [
                (entry, PUBLIC_LOG[entry.action])
                for entry in draw_log(competition.pk).filter(action__in=PUBLIC_LOG)
            ],
            "now": now,
            "beacon": beacon_public(competition, draw),
            "redraws": list(draw_redraws(draw)) if draw and draw.is_done else [],
            "instant_wins": instant_wins_public(competition, draw),
        },
    )


def draw_ledger(request, slug):
    """The entry ledger as frozen at close: one ticket number per line, ascending, nothing else
    (no names, no accounts): exactly the bytes whose SHA-256 is the published ledger hash."""
    competition = _competition(slug)
    draw = draw_for(competition.pk)
    if draw is None or draw.ledger_frozen_at is None:
        raise Http404("The entry ledger is published when entries close.")
    response = StreamingHttpResponse(
        ledger_chunks(competition.pk), content_type="text/plain; charset=us-ascii"
    )
    response["Content-Disposition"] = f'attachment; filename="{competition.slug}-ledger.txt"'
    response["Cache-Control"] = "public, max-age=30"
    return response


def draw_owners(request, slug):
    """One prize per customer: the owners list as committed at close, one pseudonymous owner
    label per ledger line (customers numbered in the order their first entry appears; no
    names, no accounts): the bytes whose SHA-256 is the published owners hash."""
    competition = _competition(slug)
    draw = draw_for(competition.pk)
    if draw is None or draw.ledger_frozen_at is None or not draw.owners_hash:
        raise Http404("This competition has no owners list.")
    response = StreamingHttpResponse(
        owners_chunks(competition.pk), content_type="text/plain; charset=us-ascii"
    )
    response["Content-Disposition"] = f'attachment; filename="{competition.slug}-owners.txt"'
    response["Cache-Control"] = "public, max-age=30"
    return response


def verify_script(request, slug):
    _competition(slug)
    response = FileResponse(VERIFY_SCRIPT.open("rb"), content_type="text/x-python; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="verify_draw.py"'
    return response
