"""Taking a competition's row for selling (docs/architecture.md §3).

A sale takes its competitions' rows last, in the one conditional statement that moves their
counters just before commit (tickets.services.rules.counters_claim); the few paths that must
judge a competition on its locked row first (refunds, a lapsed order's payment) lock it
with `lock_competitions`. Several competitions are always taken in ascending
id order, so two carts can never deadlock. On PostgreSQL a transaction-scoped `lock_timeout`
makes a hot competition answer "busy, try again" instead of queueing buyers without end
(pretix's `base/services/locking.py` does the same); a deadlock the database breaks answers
the same.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import OperationalError, connection, transaction

from competitions.models import Competition
from core.prepared import execute_prepared

from .exceptions import Busy

LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL: lock_timeout expired
DEADLOCK_DETECTED = "40P01"


@contextmanager
def waiting_briefly() -> Iterator[None]:
    """Wait for row locks at most FAIRDRAW_LOCK_TIMEOUT_SECONDS for the rest of the current
    transaction; a lock not granted in time (or a deadlock broken) raises Busy."""
    with connection.cursor() as cursor:
        prefix = briefly(cursor)
        if prefix:
            cursor.execute(prefix)
    with busy_if_stuck():
        yield


def execute_briefly(cursor, sql: str, params, *, after: str = "") -> None:
    """Run the statement that takes the rows (prepared: core.prepared), waiting for them as
    `waiting_briefly` does, and leave `cursor` on its results. On PostgreSQL the timeout goes
    in front of it in the same query string, and `after` (a COMMIT) behind, so all cost one
    round trip (Django's psycopg cursors bind parameters on the client and send one string,
    which PostgreSQL runs statement by statement)."""
    prefix = briefly(cursor)
    with busy_if_stuck():
        execute_prepared(cursor, sql, params, before=prefix, after=after)


def briefly(cursor) -> str:
    """The SQL that sets the lock timeout for the rest of the transaction, to run before the
    statement that takes the rows; "" where there is none (SQLite), or where it cannot share
    a query string (server-side binding takes one statement at a time), having set it."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Competitions are only locked inside transaction.atomic().")
    if connection.vendor != "postgresql":
        return ""
    sql = f"SET LOCAL lock_timeout = {int(settings.FAIRDRAW_LOCK_TIMEOUT_SECONDS * 1000)}"
    if connection.settings_dict["OPTIONS"].get("server_side_binding"):
        cursor.execute(sql)
        return ""
    return sql


@contextmanager
def busy_if_stuck() -> Iterator[None]:
    """A lock not granted in time, or a deadlock the database broke, raises Busy."""
    try:
        yield
    except OperationalError as exc:
        sqlstate = getattr(getattr(exc, "__cause__", None), "sqlstate", None)
        if sqlstate in (LOCK_NOT_AVAILABLE, DEADLOCK_DETECTED):
            raise Busy() from exc
        raise


def lock_competitions(competition_ids: Iterable[int]) -> dict[int, Competition]:
    """Lock the competitions' rows for the rest of the current transaction; return them fresh."""
    ids = sorted(set(competition_ids))
    with waiting_briefly():
        locked = list(Competition.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    return {c.pk: c for c in locked}
