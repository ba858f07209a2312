"""Reads shared by the pages, the API and the admin."""

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from .lifecycle import Status
from .models import Competition, CompetitionImage


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
