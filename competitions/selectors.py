"""Reads shared by the pages, the API and the admin."""

from dataclasses import dataclass

from django.db.models import Count, F, Prefetch, Q, QuerySet
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


# ---------------------------------------------------------------- skill-question strength


def skill_answer_summary(competition: Competition, rules=None) -> tuple[str, str | None]:
    """("12 of 240 answers wrong (5.0%)", warning or None) for staff. `competition` should
    come with `skill_stats` (select_related) to save a query; `rules`: the OperatorSettings
    row already read (default: read it)."""
    from core.models import OperatorSettings

    stats = getattr(competition, "skill_stats", None)
    if stats is None or not stats.answered:
        return "No answers yet", None
    percent = stats.wrong_percent
    text = f"{stats.wrong:,} of {stats.answered:,} answers wrong ({percent:.1f}%)"
    rules = rules or OperatorSettings.current()
    if stats.answered >= rules.skill_warning_min_answers and percent < (
        rules.skill_warning_wrong_percent
    ):
        return text, (
            f"Nearly everyone answers correctly (under {rules.skill_warning_wrong_percent}% "
            "wrong): the question may be too easy to count as a test of skill."
        )
    return text, None


def with_weak_skill_question(queryset: QuerySet[Competition], rules) -> QuerySet[Competition]:
    """Those of `queryset` whose question warrants that warning (in SQL, for lists)."""
    return queryset.alias(
        wrong_x100=F("skill_stats__wrong") * 100,
        answered_x_rate=F("skill_stats__answered") * rules.skill_warning_wrong_percent,
    ).filter(
        skill_stats__answered__gte=max(rules.skill_warning_min_answers, 1),
        wrong_x100__lt=F("answered_x_rate"),
    )


def instant_prize_counts(competition: Competition) -> list[dict]:
    """Each instant-win prize with how many there are, how many are won and how many of those
    are void (the ticket was refunded or the winner rejected: still won, never awarded again)
    (one query). Never the numbers: they stay secret until won (docs/architecture.md §4,
    item 6)."""
    prizes = (
        Prize.objects.filter(competition=competition, kind=Prize.Kind.INSTANT)
        .annotate(
            won=Count("instant_wins", filter=Q(instant_wins__won_at__isnull=False)),
            void=Count("instant_wins", filter=Q(instant_wins__voided_at__isnull=False)),
        )
        .order_by("id")
    )
    return [{"prize": p, "count": p.quantity, "won": p.won, "void": p.void} for p in prizes]
