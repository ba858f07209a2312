"""What draws does when competitions sends one of its hooks (`competitions.signals`).
Connected in `DrawsConfig.ready()`."""

from competitions.lifecycle import FINAL
from competitions.models import InstantWin, Prize

from . import fairness
from .models import DrawLogEntry
from .services import beacon_round_announce


def commit_to_seed(sender, *, competition, by=None, now=None, **kwargs) -> None:
    """On activation: make the secret seed and publish its commitment, and announce the beacon
    round the draw will use (docs/architecture.md §4). Runs in the activation's transaction,
    before the competition is saved (it saves the seed fields; the round is saved here)."""
    competition.draw_seed = fairness.new_seed()
    competition.seed_commitment = fairness.commitment_for(competition.draw_seed)
    DrawLogEntry.objects.create(
        competition=competition,
        actor=by,
        action="seed_committed",
        message="Competition activated; draw seed committed.",
        data={"seed_commitment": competition.seed_commitment},
    )
    beacon_round_announce(competition=competition, by=by, now=now, reason="activation")
    commit_to_instant_wins(competition, by=by)


def move_beacon_round(sender, *, competition, previous_ends_at, by=None, now=None, **kwargs):
    """The close moved: the announced round moves by the same rule, publicly logged. Nothing to
    do for a draft (no round yet), a drawn or cancelled competition, or an unchanged close."""
    if not competition.seed_commitment or competition.status in FINAL:
        return
    if competition.ends_at == previous_ends_at:
        return
    beacon_round_announce(competition=competition, by=by, now=now, reason="close moved")


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
