"""The competition page: the competition, and once drawn its draw (with the replay) and its
published winners. It shows three apps' data, so it lives above all of them (config/layers.py);
its URL keeps its name, "competitions:detail" (`pages.competition_urls`)."""

from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from competitions.lifecycle import Status
from competitions.models import Competition
from core.pagecache import cached_for_anonymous
from draws.replay import draw_replay, latest_draw
from winners.models import Winner
from winners.selectors import instant_prizes


@cached_for_anonymous()
def competition_detail(request, slug):
    competition = get_object_or_404(
        Competition.objects.public().prefetch_related("images", "answers", "prizes", "bundles"),
        slug=slug,
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
            "winners": Winner.objects.filter(
                competition=competition, is_published=True, instant_win__isnull=True
            )
            .select_related("prize", "ticket")
            .order_by("prize__position", "id"),
            "draw": draw,
            "replay": draw_replay(draw),
            # What happened at a close below the minimum ("Extended to ...", "Cancelled").
            "minimum_record": competition.minimum_outcomes.order_by("-close_number").first()
            if competition.min_tickets
            else None,
            "instant_prizes": instant_prizes(competition),
        },
    )
