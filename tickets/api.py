"""A customer's own tickets in the read-only JSON API (docs/architecture.md §5), shaped like the rest of it
(`competitions.api`: camelCase keys, times in ISO 8601 UTC)."""

from django.http import JsonResponse
from django.views.decorators.http import require_safe

from competitions.api import MAX_ID, error, private, utc
from competitions.models import Competition

from .models import Ticket
from .selectors import receipts_for


@require_safe
def user_tickets(request):
    """GET /api/tickets/user?competitionId=<id>: the logged-in customer's own tickets only."""
    if not request.user.is_authenticated:
        return private(error("Log in to see your tickets.", 401))
    raw = request.GET.get("competitionId", "")
    if not (raw.isascii() and raw.isdigit() and int(raw) <= MAX_ID):
        return private(error("competitionId is required and must be a competition id.", 400))
    competition = Competition.objects.public().filter(pk=int(raw)).only("pk").first()
    if competition is None:
        return private(error("No such competition.", 404))
    tickets = (
        Ticket.objects.filter(competition=competition, user=request.user)
        .order_by("number")
        .values("number", "status", "purchased_at", "source")
    )
    return private(
        JsonResponse(
            {
                "competitionId": competition.pk,
                "tickets": [
                    {
                        "number": t["number"],
                        "status": t["status"],
                        "purchasedAt": utc(t["purchased_at"]),
                        "source": t["source"],
                    }
                    for t in tickets
                ],
                # Each order's and postal entry's signed receipt, as downloaded from the account.
                "receipts": [r.document for r in receipts_for(request.user, competition.pk)],
            }
        )
    )
