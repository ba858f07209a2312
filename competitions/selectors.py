"""Reads shared by the pages, the API and the admin."""

from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from .lifecycle import Status
from .models import Competition, CompetitionImage, Prize


def competitions_for_listing(status: str = Status.ACTIVE, now=None) -> QuerySet[Competition]:
    """Competitions in a derived status with their images, in the order customers expect:
    closing first while on sale, soonest start for upcoming, most recent for finished."""
    now = now or timezone.now()
    order = {
        Status.ACTIVE: ["ends_at", "id"],
        Status.UPCOMING: ["starts_at", "id"],
    }.get(status, ["-ends_at", "-id"])
    return (
        Competition.objects.public()
        .with_status(status, now)
        .prefetch_related(
            Prefetch("images", queryset=CompetitionImage.objects.order_by("position", "id"))
        )
        .order_by(*order)
    )


@dataclass
class HomeSelection:
    """What the home page shows of the competitions on sale: a bounded selection."""

    featured: list[Competition]
    closing_soon: list[Competition]
    live: list[Competition]
    more_live: bool  # more are on sale than `live` shows: link to the full list


def competitions_for_home(
    now=None, *, featured: int = 3, closing_soon: int = 6, live: int = 12
) -> HomeSelection:
    """The featured competitions, those closing soon and the first of the live ones, in two
    queries (competitions, then their images) however many are on sale.

    One query takes the first `featured` featured ones and the first `live` + 1 of all, in
    the listing's order (closing first). The live grid is the head of that order, and so is
    "closing soon" (the competitions closing within the window close first)."""
    now = now or timezone.now()
    on_sale = competitions_for_listing(Status.ACTIVE, now)
    ids = on_sale.prefetch_related(None).values("id")
    rows = list(
        on_sale.filter(
            Q(pk__in=ids.filter(is_featured=True)[:featured]) | Q(pk__in=ids[: live + 1])
        )
    )
    return HomeSelection(
        featured=[c for c in rows if c.is_featured][:featured],
        closing_soon=[c for c in rows[:live] if c.is_closing_soon(now)][:closing_soon],
        live=rows[:live],
        more_live=len(rows) > live,
    )


def instant_prize_counts(competition: Competition) -> list[dict]:
    """Each instant-win prize with how many there are and how many are won (one query). Never
    the numbers: they stay secret until won (docs/architecture.md §4, item 6)."""
    prizes = (
        Prize.objects.filter(competition=competition, kind=Prize.Kind.INSTANT)
        .annotate(won=Count("instant_wins", filter=Q(instant_wins__won_at__isnull=False)))
        .order_by("id")
    )
    return [{"prize": p, "count": p.quantity, "won": p.won} for p in prizes]
