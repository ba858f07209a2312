from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from draws.replay import draw_replay, latest_draw

from .lifecycle import Status
from .models import Competition
from .selectors import competitions_for_listing

LIST_TABS = [Status.ACTIVE, Status.UPCOMING, Status.ENDED, Status.DRAWN]


def competition_list(request):
    status = request.GET.get("status", Status.ACTIVE)
    if status not in LIST_TABS:
        status = Status.ACTIVE
    now = timezone.now()
    return render(
        request,
        "competitions/list.html",
        {
            "competitions": competitions_for_listing(status, now),
            "tabs": [(s, s.label) for s in LIST_TABS],
            "current": status,
            "now": now,
        },
    )


def competition_detail(request, slug):
    competition = get_object_or_404(
        Competition.objects.public().prefetch_related("images", "answers", "prizes"), slug=slug
    )
    now = timezone.now()
    status = competition.live_status(now)
    draw = latest_draw(competition) if status == Status.DRAWN else None
    return render(
        request,
        "competitions/detail.html",
        {
            "competition": competition,
            "status": status,
            "now": now,
            "winners": competition.winners.select_related("prize", "ticket")
            .filter(is_published=True)
            .order_by("prize__position", "id"),
            "draw": draw,
            "replay": draw_replay(draw),
        },
    )
