"""The read-only JSON API of docs/architecture.md §5: competitions. (A customer's own tickets are
`tickets.api`; ticket counts here come from the competition's own counters.)

Shapes follow the brief: camelCase keys, money as decimal strings ("118500.00"), times in
ISO 8601 UTC ending in "Z". The secret draw seed never appears here: only its commitment,
until the draws API reveals the seed after the draw.
"""

from datetime import UTC, datetime
from decimal import Decimal

from django.db.models import Prefetch
from django.http import JsonResponse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from core.pagecache import cached_for_anonymous

from .lifecycle import Status
from .models import AnswerChoice, Competition, CompetitionImage
from .selectors import competitions_for_listing, instant_prize_counts

API_STATUSES = [Status.ACTIVE, Status.UPCOMING, Status.ENDED, Status.DRAWN, Status.CANCELLED]
PUBLIC_MAX_AGE = 30  # seconds a browser or CDN may reuse a public answer
MAX_ID = 2**63 - 1  # the largest primary key the database can hold


def utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _public(response: JsonResponse) -> JsonResponse:
    patch_cache_control(response, public=True, max_age=PUBLIC_MAX_AGE)
    return response


def private(response: JsonResponse) -> JsonResponse:
    patch_cache_control(response, private=True, no_store=True)
    return response


def _with_answers(queryset):
    return queryset.prefetch_related(
        Prefetch("answers", queryset=AnswerChoice.objects.order_by("position", "id")), "bundles"
    )


def competition_data(competition: Competition, request, now: datetime) -> dict:
    """One competition as the API shows it. Expects images, answers and bundles prefetched."""
    return {
        "id": competition.pk,
        "slug": competition.slug,
        "title": competition.title,
        "prizeDescription": competition.prize_description,
        "prizeValue": _money(competition.prize_value),
        "cashAlternative": _money(competition.cash_alternative),
        "ticketPrice": _money(competition.ticket_price),
        # Multi-buy prices: a line is charged the cheapest mix of these and single tickets.
        "bundles": [
            {"quantity": b.quantity, "price": _money(b.price)} for b in competition.bundles.all()
        ],
        "maxTickets": competition.max_tickets,
        "soldTickets": competition.tickets_sold,
        "ticketsLeft": competition.tickets_left,
        "maxTicketsPerUser": competition.max_tickets_per_user,
        "startDate": utc(competition.starts_at),
        "endDate": utc(competition.ends_at),
        "drawDate": utc(competition.draw_at),
        "status": competition.live_status(now).value,
        # The brief's flag: on sale right now (the derived status is "active").
        "isActive": competition.live_status(now) == Status.ACTIVE,
        "isFeatured": competition.is_featured,
        "closingSoon": competition.is_closing_soon(now),
        "images": [
            {"url": request.build_absolute_uri(image.image.url), "alt": image.alt_text}
            for image in competition.images.all()
        ],
        "question": competition.question,
        # Never the is_correct flag: the answer is the customer's to find.
        "answers": [{"id": a.pk, "text": a.text} for a in competition.answers.all()],
        "seedCommitment": competition.seed_commitment,
        # The beacon round the draw will use, announced with the commitment (null for drafts).
        "beaconRound": competition.beacon_round,
        "instantWinsCommitment": competition.instant_wins_commitment or None,
        "url": request.build_absolute_uri(competition.get_absolute_url()),
    }


@require_safe
@cached_for_anonymous(params=("status",))
def competition_list(request):
    """GET /api/competitions?status=active (the default): competitions in a derived status."""
    status = request.GET.get("status", Status.ACTIVE)
    if status not in API_STATUSES:
        return error(f"status must be one of: {', '.join(API_STATUSES)}.", 400)
    now = timezone.now()
    competitions = _with_answers(competitions_for_listing(status, now))
    results = [competition_data(c, request, now) for c in competitions]
    return _public(JsonResponse({"results": results, "count": len(results)}))


@require_safe
def competition_detail(request, pk: int):
    """GET /api/competitions/<id>: one competition (drafts do not exist for the public)."""
    if pk > MAX_ID:
        return error("No such competition.", 404)
    competition = (
        _with_answers(Competition.objects.public())
        .prefetch_related(
            Prefetch("images", queryset=CompetitionImage.objects.order_by("position", "id"))
        )
        .filter(pk=pk)
        .first()
    )
    if competition is None:
        return error("No such competition.", 404)
    data = competition_data(competition, request, timezone.now())
    # Instant-win prizes by count: the numbers are never here (won ones are on the draw API).
    data["instantWins"] = [
        {
            "title": row["prize"].title,
            "value": _money(row["prize"].value),
            "count": row["count"],
            "won": row["won"],
            "void": row["void"],
            "left": row["count"] - row["won"],
        }
        for row in instant_prize_counts(competition)
    ]
    return _public(JsonResponse(data))
