"""What draws does when competitions sends one of its hooks (`competitions.signals`).
Connected in `DrawsConfig.ready()`."""

from competitions.lifecycle import FINAL

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


def move_beacon_round(sender, *, competition, previous_ends_at, by=None, now=None, **kwargs):
    """The close moved: the announced round moves by the same rule, publicly logged. Nothing to
    do for a draft (no round yet), a drawn or cancelled competition, or an unchanged close."""
    if not competition.seed_commitment or competition.status in FINAL:
        return
    if competition.ends_at == previous_ends_at:
        return
    beacon_round_announce(competition=competition, by=by, now=now, reason="close moved")
