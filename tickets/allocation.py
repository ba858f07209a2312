"""Choosing ticket numbers.

Nothing here locks: a sale picks numbers from what committed sales show, and the partial unique
index decides when two buyers pick the same one (tickets.services.rules.tickets_insert picks
again).

A number is taken while a ticket holding it is active, invalid or reserved (the statuses of the
partial unique index `ticket_number_unique_per_competition`, which every query here uses).
Nothing in this module reads every number of a competition: a purchase costs about what it
buys, whether the competition has a hundred tickets or a million.
"""

import math
import random
from collections.abc import Collection, Iterable

from django.db import connection

from .models import Ticket

HOLDING_STATUSES = tuple(str(s) for s in Ticket.HOLDING_STATUSES)
# Kept for callers of the foundation: the statuses of tickets that were sold.
LIVE_STATUSES = Ticket.SOLD_STATUSES

SAMPLING_ROUNDS = 5  # each round is one indexed query; the gap walk finishes the job
MAX_CANDIDATES = 5_000  # per sampling round
SAMPLING_MIN_FREE_SHARE = 0.02  # below this, sampling wastes probes: walk the gaps instead


class NumbersGone(RuntimeError):
    """Fewer free numbers than the counters read a moment ago promised: other buyers took them
    meanwhile (the numbers are picked without the competition's lock)."""


def taken_among(competition_id: int, numbers: Iterable[int]) -> set[int]:
    numbers = list(numbers)
    if not numbers:
        return set()
    return set(
        Ticket.objects.filter(
            competition_id=competition_id, status__in=HOLDING_STATUSES, number__in=numbers
        )
        .order_by()  # Ticket's default ordering would join the competition table
        .values_list("number", flat=True)
    )


def lucky_candidates(*, max_number: int, size: int, exclude: Collection[int] = ()) -> list[int]:
    """Up to `size` distinct random numbers in 1..max_number, not in `exclude`, in random order,
    without a query: candidates for a lucky dip that the ticket insert itself checks (on
    PostgreSQL, tickets.services.rules writes the free ones and skips the taken)."""
    # sample() of a range: distinct numbers in random order, without building the range.
    picked = random.SystemRandom().sample(range(1, max_number + 1), min(size, max_number))
    if not exclude:
        return picked
    exclude = set(exclude)
    return [n for n in picked if n not in exclude]


def lucky_dip(
    *,
    competition_id: int,
    max_number: int,
    free_count: int,
    quantity: int,
    exclude: Collection[int] = (),
    rng=None,
) -> list[int]:
    """`quantity` distinct free numbers in 1..max_number, at random, not in `exclude`.

    While a fair share of numbers is free, draws random candidates and asks the index which are
    taken (rejection sampling: every free number equally likely), in a bounded number of rounds.
    Near sell-out, or if sampling is unlucky, walks the gaps between taken numbers from a random
    starting point, reading only as many taken numbers as it must step over.

    `free_count` counts numbers free for sale, `exclude` numbers the caller is about to take.
    """
    rng = rng or random.SystemRandom()
    exclude = set(exclude)
    if quantity < 1:
        return []
    if quantity > free_count - len(exclude):
        raise ValueError("Not enough free numbers; the caller checks the quota first.")
    chosen: set[int] = set()
    share = (free_count - len(exclude)) / max_number
    if share >= SAMPLING_MIN_FREE_SHARE:
        for _ in range(SAMPLING_ROUNDS):
            want = quantity - len(chosen)
            if want == 0:
                break
            size = min(math.ceil(want / share * 1.5) + 16, MAX_CANDIDATES)
            candidates = {rng.randint(1, max_number) for _ in range(size)} - chosen - exclude
            free = sorted(candidates - taken_among(competition_id, candidates))
            rng.shuffle(free)
            chosen.update(free[:want])
    if len(chosen) < quantity:
        chosen.update(
            _walk_gaps(
                competition_id=competition_id,
                max_number=max_number,
                quantity=quantity - len(chosen),
                exclude=exclude | chosen,
                rng=rng,
            )
        )
    if len(chosen) != quantity:
        raise NumbersGone(f"Found {len(chosen)} of {quantity} free numbers.")
    return sorted(chosen)


def _walk_gaps(*, competition_id, max_number, quantity, exclude, rng) -> list[int]:
    """Free numbers found in the gaps between taken numbers, starting at a random number and
    wrapping round once. Picks at random among up to four times as many as it needs."""
    wanted = quantity * 4 + len(exclude)
    start = rng.randint(1, max_number)
    found: list[int] = []
    for low, high in ((start, max_number), (1, start - 1)):
        if low > high:
            continue
        found.extend(_free_in_range(competition_id, low, high, wanted - len(found)))
        if len(found) >= wanted:
            break
    free = [n for n in found if n not in exclude]
    return rng.sample(free, min(quantity, len(free)))


def _free_in_range(competition_id: int, low: int, high: int, limit: int) -> list[int]:
    """Up to `limit` free numbers in low..high, in order, reading the taken numbers of that range
    in index order only until enough gaps have turned up (the window streams; LIMIT stops it)."""
    table = Ticket._meta.db_table
    marks = ", ".join(["%s"] * len(HOLDING_STATUSES))
    sql = f"""
        SELECT prev_number, number FROM (
            SELECT number, LAG(number, 1, %s) OVER (ORDER BY number) AS prev_number
            FROM {table}
            WHERE competition_id = %s AND status IN ({marks}) AND number BETWEEN %s AND %s
        ) AS runs
        WHERE number - prev_number > 1
        LIMIT %s
    """
    found: list[int] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, [low - 1, competition_id, *HOLDING_STATUSES, low, high, limit])
        for prev_number, number in cursor.fetchall():
            found.extend(range(prev_number + 1, min(number, prev_number + 1 + limit - len(found))))
            if len(found) >= limit:
                return found
        # Past the last taken number of the range, everything is free.
        cursor.execute(
            f"SELECT MAX(number) FROM {table} WHERE competition_id = %s AND status IN ({marks})"
            " AND number BETWEEN %s AND %s",
            [competition_id, *HOLDING_STATUSES, low, high],
        )
        last = cursor.fetchone()[0] or low - 1
    found.extend(range(last + 1, min(high, last + limit - len(found)) + 1))
    return found
