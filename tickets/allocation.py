"""Choosing ticket numbers. Callers hold the competition's row lock."""

import random

from .models import Ticket

LIVE_STATUSES = (Ticket.Status.ACTIVE, Ticket.Status.INVALID)


def taken_among(competition_id: int, numbers) -> set[int]:
    return set(
        Ticket.objects.filter(
            competition_id=competition_id, status__in=LIVE_STATUSES, number__in=list(numbers)
        ).values_list("number", flat=True)
    )


def lucky_dip(
    *, competition_id: int, max_number: int, free_count: int, quantity: int, rng=None
) -> list[int]:
    """`quantity` distinct random free numbers in 1..max_number.

    Samples candidates and asks the database which are taken, so the cost follows the
    quantity bought, not the size of the competition, while at least a few percent is free.
    Near sell-out it walks the taken numbers once instead.
    """
    rng = rng or random.SystemRandom()
    if quantity > free_count:
        raise ValueError("Not enough free numbers; the caller checks the quota first.")
    chosen: set[int] = set()
    if free_count * 20 >= max_number:
        while len(chosen) < quantity:
            want = quantity - len(chosen)
            candidates = {rng.randint(1, max_number) for _ in range(want * 2 + 8)} - chosen
            free = sorted(candidates - taken_among(competition_id, candidates))
            rng.shuffle(free)
            chosen.update(free[:want])
        return sorted(chosen)
    taken = Ticket.objects.filter(competition_id=competition_id, status__in=LIVE_STATUSES)
    free = sorted(set(range(1, max_number + 1)) - set(taken.values_list("number", flat=True)))
    return sorted(rng.sample(free, quantity))
