from django.db.models import QuerySet

from .models import Winner


def champions() -> QuerySet[Winner]:
    """Published winners, newest first, with what a card shows."""
    return (
        Winner.objects.published()
        .select_related("competition", "prize", "ticket")
        .order_by("-published_at", "-id")
    )
