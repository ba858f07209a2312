"""The one place that says what state a competition is in (docs/architecture.md §2).

The stored status records what staff decided (draft, activated, drawn, cancelled); the clock
and the ticket count decide the rest. `derive_status` answers for one competition in Python,
`status_q` answers the same question in SQL for lists; tests hold the two together.
"""

from datetime import datetime

from django.db import models
from django.db.models import F, Q


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    UPCOMING = "upcoming", "Upcoming"
    ACTIVE = "active", "Active"
    ENDED = "ended", "Ended"
    DRAWN = "drawn", "Drawn"
    CANCELLED = "cancelled", "Cancelled"


# A final competition is over for good: drawn, or cancelled and refunded. Nothing about its
# sale (price, quantity, dates, question, prizes) changes any more, and it is never drawn or
# cancelled again. The one definition: `Competition.is_final` and `.final()`/`.not_final()`
# on the queryset read it.
FINAL = frozenset({Status.DRAWN, Status.CANCELLED})
# Stored states staff set and the clock never changes.
FINAL_OR_MANUAL = FINAL | {Status.DRAFT}
# Stored states that mean "activated": the clock decides between them.
LIVE = (Status.UPCOMING, Status.ACTIVE, Status.ENDED)


def is_final(status: str) -> bool:
    return status in FINAL


def derive_status(
    *,
    stored: str,
    starts_at: datetime,
    ends_at: datetime,
    tickets_sold: int,
    max_tickets: int,
    now: datetime,
) -> Status:
    if stored in FINAL_OR_MANUAL:
        return Status(stored)
    if now >= ends_at or tickets_sold >= max_tickets:
        return Status.ENDED
    if now < starts_at:
        return Status.UPCOMING
    return Status.ACTIVE


def status_q(status: str, now: datetime, prefix: str = "") -> Q:
    """A filter selecting competitions whose derived status is `status` at `now`."""

    def f(name):
        return f"{prefix}{name}"

    live = Q(**{f("status__in"): LIVE})
    over = Q(**{f("ends_at__lte"): now}) | Q(**{f("tickets_sold__gte"): F(f("max_tickets"))})
    if status in FINAL_OR_MANUAL:
        return Q(**{f("status"): status})
    if status == Status.ENDED:
        return live & over
    if status == Status.UPCOMING:
        return live & ~over & Q(**{f("starts_at__gt"): now})
    if status == Status.ACTIVE:
        return live & ~over & Q(**{f("starts_at__lte"): now})
    raise ValueError(f"Unknown competition status {status!r}")
