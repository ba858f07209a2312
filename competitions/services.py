"""Every state change of a competition, one transaction each."""

from django.db import transaction
from django.utils import timezone

from draws import fairness
from draws.models import DrawLogEntry

from .exceptions import ActivationRefused
from .lifecycle import LIVE, Status, derive_status, status_q
from .models import Competition, Prize


@transaction.atomic
def competition_activate(*, competition: Competition, by=None, now=None) -> Competition:
    """Put a draft on sale (or on the upcoming list) and commit to its secret draw seed."""
    now = now or timezone.now()
    competition = Competition.objects.select_for_update().get(pk=competition.pk)
    if competition.status != Status.DRAFT:
        raise ActivationRefused(f"Only a draft can be activated; this one is {competition.status}.")
    problems = []
    answers = list(competition.answers.all())
    if len(answers) < 2:
        problems.append("the skill question needs at least two answers")
    if sum(a.is_correct for a in answers) != 1:
        problems.append("exactly one answer must be marked correct")
    if not competition.prizes.filter(kind=Prize.Kind.DRAW).exists():
        problems.append("add at least one draw prize")
    if competition.ends_at <= now:
        problems.append("the end time has already passed")
    if problems:
        raise ActivationRefused("Cannot activate: " + "; ".join(problems) + ".")

    competition.draw_seed = fairness.new_seed()
    competition.seed_commitment = fairness.commitment_for(competition.draw_seed)
    competition.activated_at = now
    competition.status = derive_status(
        stored=Status.UPCOMING,
        starts_at=competition.starts_at,
        ends_at=competition.ends_at,
        tickets_sold=competition.tickets_sold,
        max_tickets=competition.max_tickets,
        now=now,
    )
    competition.save(
        update_fields=["draw_seed", "seed_commitment", "activated_at", "status", "updated_at"]
    )
    DrawLogEntry.objects.create(
        competition=competition,
        actor=by,
        action="seed_committed",
        message="Competition activated; draw seed committed.",
        data={"seed_commitment": competition.seed_commitment},
    )
    return competition


def competition_sync_statuses(*, now=None) -> int:
    """Bring stored statuses up to the clock (the periodic task). Returns rows changed.

    Selling never trusts the stored status (it re-derives it under lock), so this only keeps
    lists, filters and the admin honest."""
    now = now or timezone.now()
    changed = 0
    for status in LIVE:
        changed += (
            Competition.objects.filter(status__in=LIVE)
            .filter(status_q(status, now))
            .exclude(status=status)
            .update(status=status, updated_at=now)
        )
    return changed
