"""Competition pages that need nothing but competitions. The detail page shows the draw and
its winners too, so it is assembled above them: `pages.competition`."""

from django.shortcuts import render
from django.utils import timezone

from .lifecycle import Status
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
