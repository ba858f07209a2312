"""A competition that closes below its minimum of tickets (docs/architecture.md §2, "Below the
minimum at close").

Each competition says what happens then (`Competition.min_tickets_outcome`):
- `extend`: the close (and the draw, by the same time) moves `min_tickets_extend_days` later,
  at most `min_tickets_max_extensions` times; after the last one `min_tickets_then` applies
  (cancel, or draw anyway). Through `competitions.services.competition_extend_close`, which
  sends `competition_close_moved` so whatever is fixed by rule from the close is worked out
  again. Every entrant is told the new closing time.
- `cancel`: the competition is cancelled and everyone refunded (`tickets.cancellation`, the
  batched, resumable job); every entrant is told.
- `draw_anyway`: the draw goes ahead among the entries received, as if there were no minimum.
- `hold` (the default): nothing happens by itself; operators are alerted and staff choose.

The periodic job (`draws_close_and_find_due`) applies the outcome at close, before it freezes
ledgers. Each close gets one `MinimumOutcomeRecord` (unique per competition and close number,
written under the competition's row lock), so the job running twice, or at once with staff,
applies nothing twice. Staff may override: choose what happens at a close that was held, or
cancel an extended competition early; with a reason, audited, public in the draw log.
"""

import logging

from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from competitions.lifecycle import LIVE, Status
from competitions.models import Competition, MinimumOutcome, MinimumOutcomeRecord
from competitions.services import competition_extend_close
from core.audit import audit_record
from notifications.outbox import absolute_url, admin_alert, local_time
from tickets.cancellation import competition_cancel
from tickets.entrants import entrant_broadcast_start

from .exceptions import OutcomeRefused
from .models import DrawLogEntry

logger = logging.getLogger(__name__)


def close_number(competition: Competition) -> int:
    """Which close this is: 0 for the advertised one, n after n extensions."""
    return MinimumOutcomeRecord.objects.filter(
        competition=competition, outcome=MinimumOutcome.EXTEND
    ).count()


def below_minimum(competition: Competition) -> bool:
    return bool(competition.min_tickets) and competition.tickets_sold < competition.min_tickets


def current_record(competition: Competition) -> MinimumOutcomeRecord | None:
    """What was decided at the competition's current close, if anything."""
    return MinimumOutcomeRecord.objects.filter(
        competition=competition, close_number=close_number(competition)
    ).first()


def draw_allowed_below_minimum() -> Exists:
    """For querysets of competitions: a "draw anyway" was decided at their current close (the
    one after the last extension, so the number of extensions is the close number)."""
    return Exists(
        MinimumOutcomeRecord.objects.filter(
            competition=OuterRef("pk"), outcome=MinimumOutcome.DRAW_ANYWAY
        )
    )


def planned_outcome(competition: Competition) -> str:
    """What the competition's settings say happens at its current close below the minimum."""
    planned = competition.min_tickets_outcome
    if planned == MinimumOutcome.EXTEND and (
        close_number(competition) >= competition.min_tickets_max_extensions
    ):
        return competition.min_tickets_then
    return planned


def minimum_outcome_apply(
    *, competition: Competition, outcome: str | None = None, by=None, reason: str = "", now=None
) -> MinimumOutcomeRecord:
    """Apply `outcome` (default: the planned one) at a close below the minimum, once.

    `by` is a member of staff overriding (a reason is required); None is the periodic job.
    Refused (`OutcomeRefused`) unless the competition has closed below its minimum and nothing
    was decided at this close yet."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if by is not None and not reason:
        raise OutcomeRefused("Say why this outcome is chosen.")
    with transaction.atomic():
        competition = Competition.objects.select_for_update().get(pk=competition.pk)
        if competition.status not in LIVE or competition.live_status(now) != Status.ENDED:
            raise OutcomeRefused(f"“{competition}” has not closed, or is {competition.status}.")
        if not below_minimum(competition):
            raise OutcomeRefused(f"“{competition}” reached its minimum.")
        number = close_number(competition)
        if MinimumOutcomeRecord.objects.filter(
            competition=competition, close_number=number
        ).exists():
            raise OutcomeRefused(
                f"An outcome was already applied at this close of “{competition}”."
            )
        outcome = outcome or planned_outcome(competition)
        if outcome == MinimumOutcome.HOLD or outcome not in MinimumOutcome.values:
            raise OutcomeRefused("Choose extend, cancel or draw anyway.")
        return _apply(competition, outcome, number=number, by=by, reason=reason, now=now)


def minimum_outcome_cancel_extended(
    *, competition: Competition, by, reason: str, now=None
) -> MinimumOutcomeRecord:
    """Staff override of an extension in progress: cancel and refund now, without waiting
    for the extended close. Only while the competition is on sale after an extension and
    still below its minimum."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise OutcomeRefused("Say why the extended competition is cancelled.")
    with transaction.atomic():
        competition = Competition.objects.select_for_update().get(pk=competition.pk)
        number = close_number(competition)
        if competition.status not in LIVE or number == 0:
            raise OutcomeRefused(f"“{competition}” is not in an extension.")
        if not below_minimum(competition):
            raise OutcomeRefused(f"“{competition}” reached its minimum.")
        return _apply(
            competition, MinimumOutcome.CANCEL, number=number, by=by, reason=reason, now=now
        )


def _apply(competition, outcome, *, number, by, reason, now) -> MinimumOutcomeRecord:
    missed = competition.ends_at
    why = (
        f"the minimum of {competition.min_tickets} tickets was not reached "
        f"({competition.tickets_sold} sold)"
    )
    record = MinimumOutcomeRecord(
        competition=competition,
        close_number=number,
        outcome=outcome,
        closed_at=missed,
        tickets_sold=competition.tickets_sold,
        min_tickets=competition.min_tickets,
        decided_by=by if getattr(by, "pk", None) else None,
        reason=reason,
        decided_at=now,
    )
    if outcome == MinimumOutcome.EXTEND:
        competition = competition_extend_close(
            competition=competition,
            days=competition.min_tickets_extend_days,
            by=by,
            reason=reason or f"Extended because {why}.",
            now=now,
        )
        record.new_ends_at = competition.ends_at
        record.save()
        message = f"Extended to {local_time(competition.ends_at)} because {why}."
        entrant_broadcast_start(
            competition=competition,
            subject=f"extended-{number + 1}",
            kind="extended",
            context={"record": record.pk},
            now=now,
        )
    elif outcome == MinimumOutcome.CANCEL:
        record.save()
        competition_cancel(
            competition=competition,
            by=by,
            reason=reason or f"Cancelled because {why}",
            now=now,
        )
        message = f"Cancelled because {why}: every ticket is refunded."
    else:
        record.save()
        message = f"Drawn among the entries received, although {why}."
    if reason:
        message += f" {reason}"
    DrawLogEntry.objects.create(  # the public draw log says what happened, and who chose it
        competition=competition,
        actor=record.decided_by,
        action=f"minimum_{outcome}",
        message=message,
        data={"close_number": number, "outcome": outcome, "tickets_sold": record.tickets_sold},
    )
    audit_record(
        actor=by,
        action=f"competition.minimum_{outcome}",
        obj=competition,
        after={
            "outcome": outcome,
            "close_number": number,
            "tickets_sold": record.tickets_sold,
            "min_tickets": record.min_tickets,
            "new_ends_at": record.new_ends_at.isoformat() if record.new_ends_at else None,
            "automatic": by is None,
        },
        note=reason or message,
    )
    return record


def minimum_outcomes_pending(now=None):
    """Closed competitions below their minimum with nothing decided at their current close:
    held for staff, or waiting for the next run of the periodic job. One query."""
    now = now or timezone.now()
    extensions = (
        MinimumOutcomeRecord.objects.filter(
            competition=OuterRef("pk"), outcome=MinimumOutcome.EXTEND
        )
        .values("competition")
        .annotate(n=Count("pk"))
        .values("n")
    )
    decided = MinimumOutcomeRecord.objects.filter(
        competition=OuterRef("pk"), close_number=OuterRef("extensions")
    )
    return (
        Competition.objects.with_status(Status.ENDED, now)
        .filter(min_tickets__gt=F("tickets_sold"))
        .annotate(extensions=Coalesce(Subquery(extensions), 0))
        .exclude(Exists(decided))
        .order_by("ends_at", "id")
    )


def minimum_outcomes_apply(*, now=None) -> list[MinimumOutcomeRecord]:
    """The periodic job's step at close: apply each pending competition's planned outcome;
    alert operators (once per close) about those held for them."""
    now = now or timezone.now()
    applied = []
    for competition in list(minimum_outcomes_pending(now)):
        if planned_outcome(competition) == MinimumOutcome.HOLD:
            admin_alert(
                subject=f"Below its minimum: {competition.title}",
                message=(
                    f"\u201c{competition.title}\u201d closed with {competition.tickets_sold} of "
                    f"the {competition.min_tickets} tickets it needs. It is held: choose to "
                    "extend, cancel or draw it anyway in the admin.\n"
                    + absolute_url(f"/admin/competitions/competition/{competition.pk}/change/")
                ),
                key=f"below-minimum-{competition.pk}-{close_number(competition)}",
            )
            continue
        try:
            applied.append(minimum_outcome_apply(competition=competition, now=now))
        except OutcomeRefused:
            pass  # decided meanwhile (staff, or another run)
        except Exception:
            logger.exception("Minimum outcome of competition %s failed", competition.pk)
    return applied
