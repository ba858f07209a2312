from django.core.paginator import Paginator
from django.shortcuts import render

from core.pagecache import cached_for_anonymous

from .selectors import champions

CHAMPIONS_PER_PAGE = 12


@cached_for_anonymous(params=("page",))
def champion_list(request):
    """Every published winner, newest first: the proof that people really win."""
    page = Paginator(champions(), CHAMPIONS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "winners/champions.html", {"page": page, "winners": page.object_list})
