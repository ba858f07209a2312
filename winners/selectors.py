from dataclasses import dataclass, field

from django.db.models import QuerySet

from competitions.models import Prize
from tickets.instant_wins import PrizeDelivered

from .models import Winner


def champions() -> QuerySet[Winner]:
    """Published winners, newest first, with what a card shows."""
    return (
        Winner.objects.published()
        .select_related("competition", "prize", "ticket")
        .order_by("-published_at", "-id")
    )


@dataclass
class InstantPrize:
    """One instant-win prize as the competition page shows it: how many, how many won, and
    the won ones (a won number may be shown; the others never are)."""

    prize: Prize
    winners: list[Winner] = field(default_factory=list)

    @property
    def count(self) -> int:
        return self.prize.quantity

    @property
    def left(self) -> int:
        return max(self.count - len(self.winners), 0)


def instant_prizes(competition) -> list[InstantPrize]:
    """The competition's instant-win prizes with their winners so far (one query, plus the
    prizes unless prefetched), never their numbers."""
    prizes = [p for p in competition.prizes.all() if p.kind == Prize.Kind.INSTANT]
    if not prizes:
        return []
    rows = {prize.pk: InstantPrize(prize) for prize in sorted(prizes, key=lambda p: p.pk)}
    for winner in (
        Winner.objects.filter(competition=competition, instant_win__isnull=False)
        .select_related("ticket", "instant_win")
        .order_by("created_at", "id")
    ):
        if winner.prize_id in rows:
            rows[winner.prize_id].winners.append(winner)
    return list(rows.values())


def instant_prizes_delivered(*, instant_win_ids) -> dict[int, PrizeDelivered]:
    """The instant wins among these whose prize was marked delivered to the winner
    (`Winner.prize_delivered_at`, set by `winner_mark_delivered`), by instant-win id: one query.
    Whatever the winner's verification status since: the prize went out all the same."""
    return {
        winner.instant_win_id: PrizeDelivered(
            instant_win_id=winner.instant_win_id,
            winner_name=winner.display_name,
            delivered_at=winner.prize_delivered_at,
        )
        for winner in Winner.objects.filter(
            instant_win_id__in=list(instant_win_ids), prize_delivered_at__isnull=False
        ).only("instant_win_id", "display_name", "prize_delivered_at")
    }
