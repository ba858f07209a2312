"""What draws does when competitions sends one of its hooks (`competitions.signals`).
Connected in `DrawsConfig.ready()`."""

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
