"""Locking competitions for selling (docs/architecture.md §3).

Every change to a competition's numbers or counters locks its row first, several competitions
in ascending id order so two carts can never deadlock. On PostgreSQL a transaction-scoped
`lock_timeout` makes a hot competition answer "busy, try again" instead of queueing buyers
without end (pretix's `base/services/locking.py` does the same).
"""

from collections.abc import Iterable

from django.conf import settings
from django.db import OperationalError, connection, transaction

from competitions.models import Competition

from .exceptions import Busy

LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: lock_timeout expired


def lock_competitions(competition_ids: Iterable[int]) -> dict[int, Competition]:
    """Lock the competitions' rows for the rest of the current transaction; return them fresh."""
    ids = sorted(set(competition_ids))
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("lock_competitions() must run inside transaction.atomic().")
    if connection.vendor == "postgresql":
        timeout_ms = int(settings.FAIRDRAW_LOCK_TIMEOUT_SECONDS * 1000)
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = {timeout_ms}")
    try:
        locked = list(Competition.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    except OperationalError as exc:
        if getattr(getattr(exc, "__cause__", None), "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise Busy() from exc
        raise
    return {c.pk: c for c in locked}
