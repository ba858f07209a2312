"""Every state change of a competition, one transaction each, each writing its audit entry.

Competitions is low in the layers (config/layers.py): nothing here calls tickets, draws or
winners. What they add to a competition's life comes in from above:
- activation commits to the draw seed through the `competition_activating` hook, answered by
  draws (see `competitions.signals`);
- cancelling refunds every ticket, so it is a tickets service (`tickets.cancellation`);
- "does anyone hold a ticket?" is read from the counters the ticket services keep on the
  competition (`tickets_sold`, `tickets_reserved`), and deleting relies on the tickets' and
  draw log's protecting foreign keys.
"""

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.db.models.deletion import ProtectedError
from django.utils import timezone

from core.audit import audit_record, audit_snapshot
from core.models import OperatorSettings

from .exceptions import ActivationRefused, CompetitionError, CompetitionLocked
from .lifecycle import LIVE, Status, derive_status, status_q
from .models import (
    LOCKED_WHEN_ACTIVATED,
    LOCKED_WHEN_FINAL,
    Competition,
    InstantWin,
    MinimumOutcome,
    Prize,
    SkillAnswerStats,
)
from .signals import competition_activating, competition_close_moved

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
    prizes = list(competition.prizes.all())
    if not any(p.kind == Prize.Kind.DRAW for p in prizes):
        problems.append("add at least one draw prize")
    problems += instant_win_problems(competition, prizes)
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

    competition_activating.send(sender=Competition, competition=competition, by=by, now=now)
    if not competition.seed_commitment:
        raise ActivationRefused(
            "Cannot activate: no draw seed was committed (is draws installed?)."
        )
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
        update_fields=[
            "draw_seed",
            "seed_commitment",
            "instant_wins_commitment",
            "instant_wins_salt",
            "activated_at",
            "status",
            "updated_at",
        ]
    )
    SkillAnswerStats.objects.get_or_create(competition=competition)
    if by is not None:
        audit_record(
            actor=by,
            action="competition.activate",
            obj=competition,
            before={"status": Status.DRAFT},
            after={"status": competition.status, "seed_commitment": competition.seed_commitment},
        )
    return competition


def instant_win_problems(competition: Competition, prizes) -> list[str]:
    """The code of practice on instant wins, checked at activation: their total value is never
    the majority of the competition's total prize value, and there are no more of them than
    tickets. (Credit cards are refused for them at payment: tickets.cards.)"""
    instant = [p for p in prizes if p.kind == Prize.Kind.INSTANT]
    if not instant:
        return []
    problems = []
    instant_value = sum((p.value * p.quantity for p in instant), Decimal("0"))
    total = sum((p.value * p.quantity for p in prizes), Decimal("0"))
    if instant_value * 2 > total:
        problems.append(
            f"instant wins are worth £{instant_value:,.2f} of £{total:,.2f} in prizes: the "
            "code of practice does not allow instant wins to be the majority of the prize value"
        )
    count = sum(p.quantity for p in instant)
    if count > competition.max_tickets:
        problems.append(
            f"there are {count} instant wins but only {competition.max_tickets} tickets"
        )
    return problems


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
    audit_record(
        actor=by,
        action=action,
        obj=competition,
        before=before,
        after=audit_snapshot(competition, after_fields),
        note=note,
    )


def _snapshot(competition, fields) -> dict:
    return audit_snapshot(competition, fields)


@transaction.atomic
def competition_change_dates(
    *, competition: Competition, by, starts_at, ends_at, draw_at, now=None
) -> Competition:
    """Move a competition's start, end or draw. Refused once drawn or
    cancelled (docs/architecture.md §2)."""
    competition = Competition.objects.select_for_update().get(pk=competition.pk)
    if competition.is_final:
        raise CompetitionLocked(f"“{competition}” is {competition.status}: its dates are fixed.")
    if not ends_at > starts_at:
        raise CompetitionError("The end must be after the start.")
    if draw_at < ends_at:
        raise CompetitionError("The draw cannot be before the end.")
    before = _snapshot(competition, DATE_FIELDS)
    previous_ends_at = competition.ends_at
    competition.starts_at, competition.ends_at, competition.draw_at = starts_at, ends_at, draw_at
    fields = [*DATE_FIELDS, "updated_at"]
    if competition.status in LIVE:  # the clock may now say something else
        competition.status = competition.live_status(now or timezone.now())
        fields.append("status")
    competition.save(update_fields=fields)
    _audit(competition, by=by, action="competition.dates", before=before, after_fields=DATE_FIELDS)
    if ends_at != previous_ends_at and competition.status != Status.DRAFT:
        competition_close_moved.send(
            sender=Competition,
            competition=competition,
            previous_ends_at=previous_ends_at,
            by=by,
            now=now or timezone.now(),
        )
    return competition


@transaction.atomic
def competition_extend_close(
    *, competition: Competition, days: int, by=None, reason: str, now=None
) -> Competition:
    """Move a closing competition's close (and its draw, by the same time) `days` later than
    its current close, and put it back on sale. The one place an extension changes the
    close: it sends `competition_close_moved`, so whatever is fixed by rule from the close (the
    draw's beacon round) is worked out again. The seed commitment is unchanged: the ledger is
    frozen only at the new close. Called by `draws.minimum`; audited here."""
    now = now or timezone.now()
    competition = Competition.objects.select_for_update().get(pk=competition.pk)
    if competition.status not in LIVE:
        raise CompetitionLocked(f"“{competition}” is {competition.status}: it cannot be extended.")
    if days < 1:
        raise CompetitionError("An extension is at least one day.")
    fields = ("ends_at", "draw_at", "status")
    before = _snapshot(competition, fields)
    previous_ends_at = competition.ends_at
    delta = timedelta(days=days)
    # From the missed close, but never into the past (a late run still gives `days` of sale).
    base = max(competition.ends_at, now)
    competition.draw_at = base + delta + (competition.draw_at - competition.ends_at)
    competition.ends_at = base + delta
    competition.status = competition.live_status(now)
    competition.save(update_fields=[*fields, "updated_at"])
    _audit(
        competition,
        by=by,
        action="competition.extend",
        before=before,
        after_fields=fields,
        note=reason,
    )
    competition_close_moved.send(
        sender=Competition,
        competition=competition,
        previous_ends_at=previous_ends_at,
        by=by,
        now=now,
    )
    return competition


@transaction.atomic
def competition_set_minimum_outcome(
    *, competition: Competition, outcome: str, by, reason: str
) -> Competition:
    """Staff choose another outcome for a close below the minimum, before it happens (with a
    reason, audited). What already happened at a close is `draws.minimum`'s override."""
    reason = (reason or "").strip()
    if not reason:
        raise CompetitionError("Say why the outcome changes.")
    if outcome not in MinimumOutcome.values:
        raise CompetitionError(f"Unknown outcome {outcome!r}.")
    competition = Competition.objects.select_for_update().get(pk=competition.pk)
    if competition.is_final:
        raise CompetitionLocked(f"“{competition}” is {competition.status}.")
    before = _snapshot(competition, ("min_tickets_outcome",))
    competition.min_tickets_outcome = outcome
    competition.save(update_fields=["min_tickets_outcome", "updated_at"])
    _audit(
        competition,
        by=by,
        action="competition.minimum_outcome",
        before=before,
        after_fields=("min_tickets_outcome",),
        note=reason,
    )
    return competition


@transaction.atomic
def competition_deactivate(*, competition: Competition, by, now=None) -> Competition:
    """Take an activated competition back to draft, only while nobody holds a ticket in it
    (none sold, none held by a checkout: the counters the ticket services keep, read under the
    same row lock they take). The seed is discarded: activating again commits to a new one."""
    competition = Competition.objects.select_for_update().get(pk=competition.pk)
    if competition.status not in LIVE:
        raise CompetitionError("Only a competition on sale or upcoming can be deactivated.")
    if competition.tickets_sold or competition.tickets_reserved:
        raise CompetitionError(
            f"“{competition}” has tickets: cancel it and refund everyone instead."
        )
    fields = ("status", "seed_commitment", "activated_at")
    before = _snapshot(competition, fields)
    competition.status = Status.DRAFT
    competition.draw_seed = ""
    competition.seed_commitment = ""
    competition.activated_at = None
    # The instant-win numbers came from the discarded seed: new ones at the next activation.
    InstantWin.objects.filter(competition=competition).delete()
    competition.instant_wins_commitment = ""
    competition.instant_wins_salt = ""
    competition.save(
        update_fields=[
            *fields,
            "draw_seed",
            "instant_wins_commitment",
            "instant_wins_salt",
            "updated_at",
        ]
    )
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
    """A new draft with the same details, answers, prizes, images and bundles (never the seed, the
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
        one_prize_per_customer=source.one_prize_per_customer,
        min_tickets_outcome=source.min_tickets_outcome,
        min_tickets_extend_days=source.min_tickets_extend_days,
        min_tickets_max_extensions=source.min_tickets_max_extensions,
        min_tickets_then=source.min_tickets_then,
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
    for bundle in source.bundles.all():
        bundle.pk, bundle.competition = None, copy
        bundle.save()
    _audit(
        copy,
        by=by,
        action="competition.duplicate",
        before={"source_id": source.pk, "source_slug": source.slug},
        after_fields=("slug", "status"),
    )
    return copy


@transaction.atomic
def competition_create(*, competition: Competition, by) -> Competition:
    """Save a new competition (always a draft: activation is its own step)."""
    competition.status = Status.DRAFT
    competition.save()
    audit_record(actor=by, action="competition.create", obj=competition)
    return competition


DATE_FIELDS_SET = frozenset(DATE_FIELDS)


@transaction.atomic
def competition_update(
    *, competition: Competition, by, fields: Iterable[str], now=None
) -> Competition:
    """Save staff's edits of `fields` on `competition` (an unsaved instance carrying the new
    values). Refused (`CompetitionLocked`) when the stored competition fixes one of them: a
    final one fixes what was sold, an activated one its question. Dates go through
    `competition_change_dates` (their own rules and audit entry)."""
    fields = [name for name in fields if name != "status"]
    stored = Competition.objects.select_for_update().get(pk=competition.pk)
    fixed = LOCKED_WHEN_FINAL if stored.is_final else ()
    if stored.status != Status.DRAFT:
        fixed = (*fixed, *LOCKED_WHEN_ACTIVATED)
    changed = [n for n in fields if getattr(competition, n) != getattr(stored, n)]
    if refused := [n for n in changed if n in fixed]:
        raise CompetitionLocked(
            f"“{stored}” is {stored.status}: {', '.join(refused)} cannot change."
        )
    dates = {n: getattr(competition, n) for n in DATE_FIELDS}
    others = [n for n in changed if n not in DATE_FIELDS_SET]
    if any(n in DATE_FIELDS_SET for n in changed):
        stored = competition_change_dates(competition=stored, by=by, now=now, **dates)
    if others:
        before = {n: str(getattr(stored, n)) for n in others}
        for name in others:
            setattr(stored, name, getattr(competition, name))
        stored.save(update_fields=[*others, "updated_at"])
        audit_record(
            actor=by,
            action="competition.edit",
            obj=stored,
            before=before,
            after={n: str(getattr(stored, n)) for n in others},
        )
    return stored


# Which parts of a competition staff may still edit, by the competition's stored status.
PART_RULES = {
    # Entries were judged against the answers: fixed from the first sale.
    "answerchoice": lambda c: c.status == Status.DRAFT,
    # What can be won is part of what was sold.
    "prize": lambda c: not c.is_final,
    "competitionimage": lambda c: True,
    # Multi-buy prices are prices: fixed once drawn or cancelled, like the ticket price.
    "bundle": lambda c: not c.is_final,
}


def _check_instant_wins_unchanged(competition: Competition) -> None:
    """Instant-win prizes are fixed at activation with their numbers: each instant prize still
    has exactly its count of numbers, and no instant prize was added. And a new value for a
    prize must keep the instant wins short of the majority of the prize value."""
    prizes = competition.prizes.annotate(numbers=Count("instant_wins")).filter(
        Q(kind=Prize.Kind.INSTANT) | Q(numbers__gt=0)
    )
    if any(p.kind != Prize.Kind.INSTANT or p.numbers != p.quantity for p in prizes):
        raise CompetitionLocked(
            f"“{competition}” is {competition.status}: its instant wins were fixed at "
            "activation (add, remove or recount them only while it is a draft)."
        )
    if problems := instant_win_problems(competition, list(competition.prizes.all())):
        raise CompetitionError(f"Cannot save the prizes: {'; '.join(problems)}.")


@transaction.atomic
def competition_edit_parts(
    *, competition: Competition, by, part: str, save: Callable[[], dict[str, list[str]]]
) -> dict[str, list[str]]:
    """Save edits of a competition's answers, prizes or images (`part` is the model name;
    `save` writes them and returns {"added": [...], "changed": [...], "deleted": [...]}), after
    checking the competition still allows them, and audit what changed."""
    stored = Competition.objects.select_for_update().get(pk=competition.pk)
    changes = save()
    if any(changes.values()) and not PART_RULES[part](stored):
        # Raised after saving, so the whole edit rolls back; nothing changed, nothing refused.
        raise CompetitionLocked(f"“{stored}” is {stored.status}: its {part}s are fixed.")
    if any(changes.values()) and part == "prize" and stored.status != Status.DRAFT:
        _check_instant_wins_unchanged(stored)
    if any(changes.values()):
        audit_record(actor=by, action=f"competition.edit_{part}", obj=stored, after=changes)
    return changes


@transaction.atomic
def competition_delete(*, competition: Competition, by) -> None:
    """Delete a competition nobody has a ticket in (docs/architecture.md §2: otherwise cancel and refund).

    Tickets, orders and the draw log protect their competition (on_delete=PROTECT), so the
    database refuses what this refuses; the refusal is turned into a message."""
    competition = Competition.objects.select_for_update().get(pk=competition.pk)
    # Written first, while the row (and so its id) still exists; a refusal rolls it back.
    audit_record(
        actor=by,
        action="competition.delete",
        obj=competition,
        before=_snapshot(competition, ("title", "slug", "status")),
    )
    try:
        competition.delete()
    except ProtectedError as error:
        kinds = sorted({obj._meta.verbose_name_plural for obj in error.protected_objects})
        if "tickets" in kinds:
            raise CompetitionError(
                f"“{competition}” has tickets: it cannot be deleted. Cancel and refund it instead."
            ) from error
        raise CompetitionError(
            f"“{competition}” cannot be deleted: it has {', '.join(kinds)}."
        ) from error


# ---------------------------------------------------------------- skill-question figures


def skill_answer_totals(answers: Iterable[tuple[int, bool]]) -> dict[int, tuple[int, int]]:
    """{competition id: (answered, wrong)} of (competition id, correct?) pairs."""
    totals: dict[int, tuple[int, int]] = {}
    for competition_id, correct in answers:
        answered, wrong = totals.get(competition_id, (0, 0))
        totals[competition_id] = (answered + 1, wrong + (not correct))
    return totals


def skill_answers_upsert_sql(competition_id: int, *, answered: int, wrong: int):
    """`skill_answers_record` for one competition as one PostgreSQL statement (an upsert: the
    row is made if missing), and its parameters: for a payment to run inside the statement
    that ends its transaction (tickets.services.rules.paid_tickets_claim), so counting adds
    no round trip and holds the row only while that statement and the commit run."""
    table = SkillAnswerStats._meta.db_table
    sql = (
        f"INSERT INTO {table} AS s (competition_id, answered, wrong) VALUES (%s, %s, %s)"
        " ON CONFLICT (competition_id) DO UPDATE SET answered = s.answered + EXCLUDED.answered,"
        " wrong = s.wrong + EXCLUDED.wrong"
    )
    return sql, [competition_id, answered, wrong]


def skill_answers_record(*, answers: Iterable[tuple[int, bool]]) -> None:
    """Count answers to skill questions given with paid entries: (competition id, correct?)
    pairs, one per order line.

    One `UPDATE ... SET answered = answered + n` per competition (ascending ids), each its own
    short statement. The usual payment on PostgreSQL counts with `skill_answers_upsert_sql`
    instead, in the statement that ends its transaction; the others call this once they have
    committed (tickets.services.fulfilment), so no sale holds these rows while it waits for the
    hot competition row. A competition without its row yet (activated before these figures
    existed) gets it first."""
    totals = skill_answer_totals(answers)
    for competition_id in sorted(totals):
        answered, wrong = totals[competition_id]
        rows = SkillAnswerStats.objects.filter(competition_id=competition_id)
        changes = {"answered": F("answered") + answered, "wrong": F("wrong") + wrong}
        if rows.update(**changes):
            continue
        try:
            with transaction.atomic():
                SkillAnswerStats.objects.create(
                    competition_id=competition_id, answered=answered, wrong=wrong
                )
        except IntegrityError:  # another payment created it first
            rows.update(**changes)
