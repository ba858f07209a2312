"""Competition pages that need nothing but competitions. The detail page shows the draw and
its winners too, so it is assembled above them: `pages.competition`."""

from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone

from core.pagecache import cached_for_anonymous

from .lifecycle import Status
from .selectors import competitions_for_listing

LIST_TABS = [Status.ACTIVE, Status.UPCOMING, Status.ENDED, Status.DRAWN]
PER_PAGE = 24  # four rows of the widest grid


@cached_for_anonymous(params=("status", "page"))
def competition_list(request):
    """One status tab, a page at a time. A page past the end shows the last one, and one that
    is not a number the first (Paginator.get_page): an old link never breaks."""
    status = request.GET.get("status", Status.ACTIVE)
    if status not in LIST_TABS:
        status = Status.ACTIVE
    now = timezone.now()
    page = Paginator(competitions_for_listing(status, now), PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "competitions/list.html",
        {
            "competitions": page.object_list,
            "page": page,
            "page_range": page.paginator.get_elided_page_range(page.number, on_ends=1),
            "tabs": [(s, s.label) for s in LIST_TABS],
            "current": status,
            "now": now,
        },
    )
