"""Every state change of a competition, one transaction each."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from core.audit import audit_record
from core.models import OperatorSettings
from draws import fairness
from draws.models import DrawLogEntry

from .exceptions import ActivationRefused
from .lifecycle import LIVE, Status, derive_status, status_q
from .models import Competition, Prize

SUNDAY = 6  # date.weekday()


def clear_days_between(opens: datetime, closes: datetime) -> int:
    """Whole UK calendar days strictly between the opening day and the closing day, Sundays
    not counted (the code of practice's "clear days")."""
    first = timezone.localdate(opens) + timedelta(days=1)
    last = timezone.localdate(closes) - timedelta(days=1)
    days = 0
    while first <= last:
        days += first.weekday() != SUNDAY
        first += timedelta(days=1)
    return days


@transaction.atomic
def competition_activate(
    *, competition: Competition, by=None, now=None, min_clear_days: int | None = None
) -> Competition:
    """Put a draft on sale (or on the upcoming list) and commit to its secret draw seed.

    A competition must stay open for at least `min_clear_days` clear days (by default the
    operator's setting, OperatorSettings.min_open_clear_days), counted from when sales really
    open: its start, or now if that has passed."""
    now = now or timezone.now()
    if min_clear_days is None:
        min_clear_days = OperatorSettings.current().min_open_clear_days
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
    elif min_clear_days:
        clear = clear_days_between(max(competition.starts_at, now), competition.ends_at)
        if clear < min_clear_days:
            problems.append(
                f"it must stay open for at least {min_clear_days} clear days between the "
                f"opening and closing days (Sundays not counted); it has {clear}"
            )
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
    if by is not None:
        audit_record(
            actor=by,
            action="competition.activate",
            obj=competition,
            before={"status": Status.DRAFT},
            after={"status": competition.status, "seed_commitment": competition.seed_commitment},
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


# ---------------------------------------------------------------- back-office (audited)

DATE_FIELDS = ("starts_at", "ends_at", "draw_at")


def _audit(competition, *, by, action: str, before: dict, after_fields, note: str = "") -> None:
    from core.audit import audit_record, audit_snapshot

    audit_record(
        actor=by,
        action=action,
        obj=competition,
        before=before,
        after=audit_snapshot(competition, after_fields),
        note=note,
    )


def _snapshot(competition, fields) -> dict:
    from core.audit import audit_snapshot

    return audit_snapshot(competition, fields)


@transaction.atomic
def competition_change_dates(
    *, competition: Competition, by, starts_at, ends_at, draw_at, now=None
) -> Competition:
    """Move a competition's start, end or draw. Refused once drawn or cancelled
    (docs/architecture.md §2)."""
    from .exceptions import CompetitionError

    competition = Competition.objects.select_for_update().get(pk=competition.pk)
    if competition.status in (Status.DRAWN, Status.CANCELLED):
        raise CompetitionError(f"“{competition}” is {competition.status}: its dates are fixed.")
    if not ends_at > starts_at:
        raise CompetitionError("The end must be after the start.")
    if draw_at < ends_at:
        raise CompetitionError("The draw cannot be before the end.")
    before = _snapshot(competition, DATE_FIELDS)
    competition.starts_at, competition.ends_at, competition.draw_at = starts_at, ends_at, draw_at
    fields = [*DATE_FIELDS, "updated_at"]
    if competition.status in LIVE:  # the clock may now say something else
        competition.status = competition.live_status(now or timezone.now())
        fields.append("status")
    competition.save(update_fields=fields)
    _audit(competition, by=by, action="competition.dates", before=before, after_fields=DATE_FIELDS)
    return competition


@transaction.atomic
def competition_deactivate(*, competition: Competition, by, now=None) -> Competition:
    """Take an activated competition back to draft, only while nobody holds a ticket in it.
    The seed is discarded: activating again commits to a new one."""
    from tickets.models import Ticket

    from .exceptions import CompetitionError

    competition = Competition.objects.select_for_update().get(pk=competition.pk)
    if competition.status not in LIVE:
        raise CompetitionError("Only a competition on sale or upcoming can be deactivated.")
    if Ticket.objects.filter(competition=competition).exists():
        raise CompetitionError(
            f"“{competition}” has tickets: cancel it and refund everyone instead."
        )
    fields = ("status", "seed_commitment", "activated_at")
    before = _snapshot(competition, fields)
    competition.status = Status.DRAFT
    competition.draw_seed = ""
    competition.seed_commitment = ""
    competition.activated_at = None
    competition.save(update_fields=[*fields, "draw_seed", "updated_at"])
    _audit(competition, by=by, action="competition.deactivate", before=before, after_fields=fields)
    return competition


def _free_slug(slug: str) -> str:
    base = f"{slug[:200]}-copy"
    taken = set(Competition.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


@transaction.atomic
def competition_duplicate(*, competition: Competition, by) -> Competition:
    """A new draft with the same details, answers, prizes and images (never the seed, the
    counters or the tickets)."""
    source = Competition.objects.get(pk=competition.pk)
    copy = Competition.objects.create(
        title=f"{source.title} (copy)"[:200],
        slug=_free_slug(source.slug),
        summary=source.summary,
        prize_description=source.prize_description,
        prize_value=source.prize_value,
        cash_alternative=source.cash_alternative,
        ticket_price=source.ticket_price,
        max_tickets=source.max_tickets,
        max_tickets_per_user=source.max_tickets_per_user,
        min_tickets=source.min_tickets,
        starts_at=source.starts_at,
        ends_at=source.ends_at,
        draw_at=source.draw_at,
        question=source.question,
        is_featured=False,
        auto_draw_enabled=source.auto_draw_enabled,
    )
    for answer in source.answers.all():
        answer.pk, answer.competition = None, copy
        answer.save()
    for prize in source.prizes.all():
        prize.pk, prize.competition = None, copy
        prize.save()
    for image in source.images.all():
        image.pk, image.competition = None, copy
        image.save()
    _audit(
        copy,
        by=by,
        action="competition.duplicate",
        before={"source_id": source.pk, "source_slug": source.slug},
        after_fields=("slug", "status"),
    )
    return copy


@transaction.atomic
def competition_cancel(*, competition: Competition, by, reason: str, now=None) -> Competition:
    """Cancel a competition before its draw and refund every paid ticket in it; checkouts in
    progress give their numbers back. One transaction: all refunded and cancelled, or nothing.
    The refunds go to the payment provider after commit (tickets.services.order_refund)."""
    from django.db.models import F

    from tickets.models import Order, Refund, Ticket
    from tickets.services import order_refund, order_release

    from .exceptions import CompetitionError

    now = now or timezone.now()
    if not (reason or "").strip():
        raise CompetitionError("Say why the competition is cancelled.")
    competition = Competition.objects.select_for_update().get(pk=competition.pk)
    if competition.status in (Status.DRAWN, Status.CANCELLED):
        raise CompetitionError(f"“{competition}” is already {competition.status}.")
    before = _snapshot(competition, ("status", "tickets_sold"))
    pending = Order.objects.filter(
        status=Order.Status.PENDING, lines__competition=competition
    ).values_list("pk", flat=True)
    for order_id in list(pending):
        order_release(order_id=order_id, reason=Order.Status.CANCELLED, only_if_lapsed=False)
    live = Ticket.objects.filter(
        competition=competition, status__in=Ticket.SOLD_STATUSES, order__isnull=False
    )
    orders = Order.objects.filter(pk__in=live.values("order_id")).order_by("pk")
    refunds = 0
    for order in orders.iterator(chunk_size=500):
        order_refund(
            order=order,
            tickets=list(live.filter(order=order)),
            reason=Refund.Reason.COMPETITION_CANCELLED,
            note=reason,
            by=by,
            now=now,
        )
        refunds += 1
    # Free postal entries have no money to return; they are voided the same way.
    voided = Ticket.objects.filter(
        competition=competition, status__in=Ticket.SOLD_STATUSES, order__isnull=True
    ).update(status=Ticket.Status.REFUNDED, refunded_at=now)
    Competition.objects.filter(pk=competition.pk).update(
        status=Status.CANCELLED,
        cancelled_at=now,
        is_featured=False,
        tickets_sold=F("tickets_sold") - voided,
        updated_at=now,
    )
    competition.refresh_from_db()
    _audit(
        competition,
        by=by,
        action="competition.cancel",
        before=before,
        after_fields=("status", "cancelled_at", "tickets_sold"),
        note=f"{reason} ({refunds} orders refunded)",
    )
    return competition
