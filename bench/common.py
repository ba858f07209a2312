"""Set-up shared by the benchmarks (imported after Django is configured)."""

import time
from datetime import timedelta
from decimal import Decimal


def bench_competition(*, label: str, max_tickets: int, prizes: int = 1, ends_in=None, **fields):
    """An on-sale competition made through the real activation service, and its correct
    answer. Bench data skips the minimum open time (it closes in a week, or `ends_in`);
    `fields` sets any other column (e.g. is_featured)."""
    from django.utils import timezone

    from competitions.models import AnswerChoice, Competition, Prize
    from competitions.services import competition_activate

    now = timezone.now()
    stamp = f"{label}-{int(time.time() * 1000)}"
    competition = Competition.objects.create(
        title=f"Bench {stamp}",
        slug=f"bench-{stamp}",
        prize_description="Benchmark",
        prize_value=Decimal("1000"),
        ticket_price=Decimal("0.99"),
        max_tickets=max_tickets,
        max_tickets_per_user=max_tickets,
        starts_at=now - timedelta(days=1),
        ends_at=now + (ends_in or timedelta(days=7)),
        draw_at=now + (ends_in or timedelta(days=7)),
        question="2 + 2?",
        **fields,
    )
    answer = AnswerChoice.objects.create(competition=competition, text="4", is_correct=True)
    AnswerChoice.objects.create(competition=competition, text="5")
    for position in range(1, prizes + 1):
        Prize.objects.create(
            competition=competition, position=position, title=f"Prize {position}", value=1
        )
    competition_activate(competition=competition, now=now, min_clear_days=0)
    return competition, answer
