"""What draws does when competitions sends one of its hooks (`competitions.signals`).
Connected in `DrawsConfig.ready()`."""

from competitions.models import InstantWin, Prize

from . import fairness
from .models import DrawLogEntry


def commit_to_seed(sender, *, competition, by=None, now=None, **kwargs) -> None:
    """On activation: make the secret seed and publish its commitment (docs/architecture.md §4). Runs in
    the activation's transaction, before the competition is saved (it saves both fields)."""
    competition.draw_seed = fairness.new_seed()
    competition.seed_commitment = fairness.commitment_for(competition.draw_seed)
    DrawLogEntry.objects.create(
        competition=competition,
        actor=by,
        action="seed_committed",
        message="Competition activated; draw seed committed.",
        data={"seed_commitment": competition.seed_commitment},
    )
    commit_to_instant_wins(competition, by=by)


def commit_to_instant_wins(competition, *, by=None) -> None:
    """Choose the instant-win numbers from the seed just committed, store them (secret until
    won) and publish a salted commitment to their list (docs/architecture.md §4, item 6).

    The numbers go to the instant prizes' units in the order the prizes were added (id), as
    `fairness` says, so the revealed list and the seed reproduce who could win what."""
    InstantWin.objects.filter(competition=competition).delete()  # a previous activation's
    prizes = list(competition.prizes.filter(kind=Prize.Kind.INSTANT).order_by("id"))
    if not prizes:
        competition.instant_wins_commitment = competition.instant_wins_salt = ""
        return
    numbers = fairness.instant_win_numbers(
        seed=competition.draw_seed,
        max_tickets=competition.max_tickets,
        count=sum(p.quantity for p in prizes),
    )
    rows, position = [], 0
    for prize in prizes:
        for number in numbers[position : position + prize.quantity]:
            rows.append(InstantWin(competition=competition, prize=prize, number=number))
        position += prize.quantity
    InstantWin.objects.bulk_create(rows)
    competition.instant_wins_salt = fairness.new_instant_wins_salt()
    competition.instant_wins_commitment = fairness.instant_wins_commitment(
        numbers, competition.instant_wins_salt
    )
    DrawLogEntry.objects.create(
        competition=competition,
        actor=by,
        action="instant_wins_committed",
        message=f"{len(numbers)} instant-win numbers chosen from the seed; list committed.",
        data={"instant_wins_commitment": competition.instant_wins_commitment},
    )
