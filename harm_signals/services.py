"""Harm signals: customers whose play may be harming them, flagged for staff to review.

The UK prize-draw code of practice asks operators to watch for signs of harm and act on them.
Four rules, with thresholds the operator edits in admin (`OperatorSettings`; 0 turns a rule
off, so a mistyped zero never flags every customer):

- entries_per_day: paid tickets bought in the current UK calendar day (free postal entries and
  numbers merely held by a checkout don't count; refunded ones do: they were bought);
- spend_vs_limit: this UK month's spend (paid less refunds, plus checkouts holding tickets: the
  figure `responsible_play.limits` checks purchases against) reaches a share of the limit in force (the
  lower of the customer's own limit and the operator's cap). With a £0 limit any spend at all
  this month flags: it can only have happened before the limit was lowered to £0, and a
  customer who spends and then shuts the door on themselves is worth a call. Customers with no
  limit at all (no personal limit, no operator cap) are never flagged by this rule;
- limit_raised: requests in the last 90 days that raised or removed the limit compared with the
  request before them (whether or not that earlier one ever took effect);
- declined_payments: declined card payments (`payment_intent.payment_failed` events linked to
  the customer's orders) received in the last 7 days.

Each rule is one query over every customer and returns the customers at or over its threshold.
`harm_signals_scan` (hourly from beat, or `manage.py scan_harm_signals`) turns the hits into
flags: a new flag for a new hit, a refreshed `last_seen_at`/`detail`/`value` for a flag already
open. A flag staff have closed (actioned or dismissed) is never reopened by the scan: within
`QUIET_PERIOD` of its closing the same rule opens no new flag for the customer either, unless
the value has grown markedly (`MARKED_GROWTH` times the value it was closed at), so a decision
isn't second-guessed every hour but a customer whose play keeps escalating comes back to staff.
Open flags whose rule no longer fires stay open: only staff close a flag.

The staff workflow (notes, closing, reopening, and acting on the customer: a spend limit or a
break) is the `harm_flag_*` services below; each writes a `HarmAction` (the flag's history) and
an audit entry in the same transaction as the change.
"""

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.utils import timezone

from accounts.models import ExclusionKind, User
from core.audit import audit_record, audit_snapshot
from core.models import OperatorSettings
from responsible_play.limits import (
    MONEY,
    money,
    month_bounds,
    monthly_limit_for,
    operator_cap,
    spend_limit_set,
)
from responsible_play.models import SpendLimit
from responsible_play.services import user_self_exclude, user_take_break
from tickets.spending import position_of, spend_annotations

from .models import HarmAction, HarmFlag

Rule = HarmFlag.Rule

LIMIT_RAISE_WINDOW = timedelta(days=90)
DECLINED_WINDOW = timedelta(days=7)
PAYMENT_FAILED = "payment_intent.payment_failed"
# After staff close a flag, the same rule stays quiet for this customer this long...
QUIET_PERIOD = timedelta(days=7)
# ...unless the value reaches this multiple of the value the flag was closed at.
MARKED_GROWTH = Decimal("1.5")

# Which operator setting holds each rule's threshold.
THRESHOLD_SETTINGS = {
    Rule.ENTRIES_PER_DAY: "harm_entries_per_day",
    Rule.SPEND_VS_LIMIT: "harm_spend_share_percent",
    Rule.LIMIT_RAISED: "harm_limit_raises",
    Rule.DECLINED_PAYMENTS: "harm_declined_payments",
}

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Hit:
    """A customer at or over a rule's threshold: what staff read, and the figures behind it."""

    value: Decimal
    threshold: Decimal
    detail: str


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def format_value(rule: str, value: Decimal) -> str:
    """A flag's value as staff read it: money for the spend rule, a count for the others."""
    return money(value) if rule == Rule.SPEND_VS_LIMIT else f"{value:,.0f}"


def day_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The UK calendar day containing `now`, as aware datetimes [start, end). A day on which
    the clocks change lasts 23 or 25 hours."""
    local = timezone.localtime(now).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    tz = timezone.get_current_timezone()
    return timezone.make_aware(local, tz), timezone.make_aware(local + timedelta(days=1), tz)


# ---------------------------------------------------------------- the rules


def rule_entries_per_day(*, now: datetime, threshold: int) -> dict[int, Hit]:
    from tickets.models import Ticket

    start, end = day_bounds(now)
    rows = (
        Ticket.objects.issued()
        .filter(source=Ticket.Source.PAID, purchased_at__gte=start, purchased_at__lt=end)
        .order_by()
        .values("user_id")
        .annotate(entries=Count("id"))
        .filter(entries__gte=threshold)
    )
    day = f"{timezone.localtime(now):%-d %b %Y}"
    return {
        row["user_id"]: Hit(
            value=Decimal(row["entries"]),
            threshold=Decimal(threshold),
            detail=f"Bought {_count(row['entries'], 'paid entry', 'paid entries')} on {day} "
            f"(UK day); flags at {threshold}.",
        )
        for row in rows
    }


def rule_spend_vs_limit(*, now: datetime, threshold: int) -> dict[int, Hit]:
    from tickets.models import Order

    start, end = month_bounds(now)
    # Only customers with spend this month can be near a limit: a bounded set, one query.
    spenders = (Order.objects.paid_between(start, end) | Order.objects.holding(now)).values(
        "user_id"
    )
    cap = operator_cap()
    rows = User.objects.filter(pk__in=spenders).annotate(**spend_annotations("pk", now))
    share = Decimal(threshold)
    hits = {}
    # The comparison is done in Python, in exact decimals: SQLite sums money as floats.
    for row in rows.only("pk").order_by():
        position = position_of(row, cap)
        limit, spent = position.limit, position.spent
        if limit is None or spent <= 0 or spent * 100 < limit * share:
            continue
        whose = "the operator's cap of" if position.limited_by_cap else "their limit of"
        if limit == 0:
            detail = (
                f"Spent {money(spent)} this month although {whose} {money(limit)} a month "
                "is now in force."
            )
        else:
            percent = int(spent * 100 / limit)  # whole percent, rounded down
            detail = (
                f"Spent {money(spent)} this month: {percent}% of {whose} {money(limit)}; "
                f"flags at {threshold}%."
            )
        hits[row.pk] = Hit(
            value=spent,
            threshold=(limit * share / 100).quantize(Decimal("0.01"), ROUND_CEILING),
            detail=detail[:255],
        )
    return hits


def rule_limit_raised(*, now: datetime, threshold: int) -> dict[int, Hit]:
    earlier = SpendLimit.objects.filter(user=OuterRef("user")).filter(
        Q(requested_at__lt=OuterRef("requested_at"))
        | Q(requested_at=OuterRef("requested_at"), id__lt=OuterRef("id"))
    )
    previous_limit = earlier.order_by("-requested_at", "-id").values("monthly_limit")[:1]
    rows = (
        SpendLimit.objects.alias(previous_limit=Subquery(previous_limit, output_field=MONEY))
        .filter(requested_at__gte=now - LIMIT_RAISE_WINDOW, requested_at__lte=now)
        # A raise: more than the request before; a removal: none after a limit. The first
        # request ever, and any limit after "none", lower what the customer may spend.
        .filter(previous_limit__isnull=False)
        .filter(Q(monthly_limit__isnull=True) | Q(monthly_limit__gt=F("previous_limit")))
        .order_by()
        .values("user_id")
        .annotate(raises=Count("id"))
        .filter(raises__gte=threshold)
    )
    return {
        row["user_id"]: Hit(
            value=Decimal(row["raises"]),
            threshold=Decimal(threshold),
            detail="Asked to raise or remove their spending limit "
            f"{_count(row['raises'], 'time', 'times')} in "
            f"the last 90 days; flags at {threshold}.",
        )
        for row in rows
    }


def rule_declined_payments(*, now: datetime, threshold: int) -> dict[int, Hit]:
    from tickets.models import PaymentEvent

    rows = (
        PaymentEvent.objects.filter(
            type=PAYMENT_FAILED,
            order__isnull=False,
            received_at__gte=now - DECLINED_WINDOW,
            received_at__lte=now,
        )
        .order_by()
        .values("order__user_id")
        .annotate(declined=Count("id"))
        .filter(declined__gte=threshold)
    )
    return {
        row["order__user_id"]: Hit(
            value=Decimal(row["declined"]),
            threshold=Decimal(threshold),
            detail=f"{_count(row['declined'], 'declined card payment', 'declined card payments')} "
            "in the last 7 days; flags at "
            f"{threshold}.",
        )
        for row in rows
    }


RULES = {
    Rule.ENTRIES_PER_DAY: rule_entries_per_day,
    Rule.SPEND_VS_LIMIT: rule_spend_vs_limit,
    Rule.LIMIT_RAISED: rule_limit_raised,
    Rule.DECLINED_PAYMENTS: rule_declined_payments,
}


# ---------------------------------------------------------------- the scan


@dataclass
class ScanSummary:
    opened: int = 0
    refreshed: int = 0
    held_back: int = 0  # closed by staff within the quiet period, not grown markedly

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self):
        return (
            f"Harm signals: {_count(self.opened, 'new flag', 'new flags')}, "
            f"{_count(self.refreshed, 'open flag', 'open flags')} refreshed, "
            f"{self.held_back} held back (closed by staff in the last {QUIET_PERIOD.days} days)."
        )


def _open_flags(rule: str) -> dict[int, HarmFlag]:
    # Open flags are staff's working list, a small set: read them all rather than pass every
    # hit's id back to the database.
    return {f.user_id: f for f in HarmFlag.objects.filter(rule=rule, status=HarmFlag.Status.OPEN)}


def _recently_closed(rule: str, now: datetime) -> dict[int, HarmFlag]:
    closed = HarmFlag.objects.filter(rule=rule, closed_at__gt=now - QUIET_PERIOD).exclude(
        status=HarmFlag.Status.OPEN
    )
    latest: dict[int, HarmFlag] = {}
    for flag in closed.order_by("closed_at", "id"):
        latest[flag.user_id] = flag
    return latest


def _open_flag(rule: str, user_id: int, hit: Hit, now: datetime, after: HarmFlag | None):
    """A new open flag, or None when another scan opened one first (the partial unique
    constraint allows one open flag per customer and rule)."""
    detail = hit.detail
    if after is not None:
        closed_on = f"{timezone.localtime(after.closed_at):%-d %b}"
        was = format_value(rule, after.value)
        detail = f"{detail} Up from {was} when last closed ({closed_on})."
    try:
        with transaction.atomic():
            return HarmFlag.objects.create(
                user_id=user_id,
                rule=rule,
                detail=detail[:255],
                value=hit.value,
                threshold=hit.threshold,
                first_seen_at=now,
                last_seen_at=now,
            )
    except IntegrityError:
        return None


def _apply(rule: str, hits: dict[int, Hit], *, now: datetime, summary: ScanSummary) -> None:
    if not hits:
        return
    open_flags = _open_flags(rule)
    closed = _recently_closed(rule, now)
    refreshed = []
    # Ascending customer order: two scans inserting at once take row locks in the same order.
    for user_id in sorted(hits):
        hit = hits[user_id]
        flag = open_flags.get(user_id)
        if flag is None:
            last = closed.get(user_id)
            if last is not None and hit.value < last.value * MARKED_GROWTH:
                summary.held_back += 1
                continue
            if _open_flag(rule, user_id, hit, now, last) is not None:
                summary.opened += 1
                continue
            # Lost the race to a scan running at the same time: refresh its flag instead.
            flag = HarmFlag.objects.filter(
                user_id=user_id, rule=rule, status=HarmFlag.Status.OPEN
            ).first()
            if flag is None:
                continue
        flag.detail, flag.value, flag.threshold = hit.detail, hit.value, hit.threshold
        flag.last_seen_at = now
        refreshed.append(flag)
    HarmFlag.objects.bulk_update(refreshed, ["detail", "value", "threshold", "last_seen_at"])
    summary.refreshed += len(refreshed)


@transaction.atomic
def harm_signals_scan(*, now: datetime | None = None) -> ScanSummary:
    """Run every rule over every customer and open or refresh flags (see the module
    docstring). Safe to run at any time and from several places at once."""
    now = now or timezone.now()
    operator = OperatorSettings.current()
    summary = ScanSummary()
    for rule, find in RULES.items():
        threshold = getattr(operator, THRESHOLD_SETTINGS[rule])
        if threshold:
            _apply(rule, find(now=now, threshold=threshold), now=now, summary=summary)
    return summary


# ---------------------------------------------------------------- staff workflow

FLAG_FIELDS = ("status", "closed_at", "closed_by")
NOTE_REQUIRED = "Write a note: it is the record of what was decided and why."
CLOSING_OUTCOMES = (HarmFlag.Status.ACTIONED, HarmFlag.Status.DISMISSED)
BREAK_KINDS = (ExclusionKind.BREAK, ExclusionKind.SELF_EXCLUSION)


def _note(note: str) -> str:
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": NOTE_REQUIRED}, code="note_required")
    return note


def _history(flag: HarmFlag, *, by, kind: str, note: str, now) -> HarmAction:
    return HarmAction.objects.create(
        flag=flag, user_id=flag.user_id, at=now, actor=by, kind=kind, note=note
    )


def _locked(flag: HarmFlag) -> HarmFlag:
    return HarmFlag.objects.select_for_update().select_related("user").get(pk=flag.pk)


@transaction.atomic
def harm_flag_add_note(
    *, flag: HarmFlag, by: User, note: str, contacted: bool = False, now=None
) -> HarmAction:
    """Add to the flag's history: a note, or a record that staff contacted the customer."""
    note = _note(note)
    now = now or timezone.now()
    kind = HarmAction.Kind.CONTACTED if contacted else HarmAction.Kind.NOTE
    action = _history(flag, by=by, kind=kind, note=note, now=now)
    audit_record(actor=by, action=f"harm_flag.{kind}", obj=flag, after={"kind": kind}, note=note)
    return action


@transaction.atomic
def harm_flag_close(*, flag: HarmFlag, by: User, outcome: str, note: str, now=None) -> HarmFlag:
    """Close an open flag as actioned (something was done) or dismissed (nothing needed),
    saying why. The scan leaves the rule quiet for the customer for `QUIET_PERIOD`."""
    if outcome not in CLOSING_OUTCOMES:
        raise ValidationError({"outcome": "Choose actioned or dismissed."}, code="outcome")
    note = _note(note)
    now = now or timezone.now()
    flag = _locked(flag)
    if flag.status != HarmFlag.Status.OPEN:
        raise ValidationError(
            f"This flag is already closed ({flag.get_status_display().lower()}).",
            code="already_closed",
        )
    before = audit_snapshot(flag, FLAG_FIELDS)
    flag.status, flag.closed_at, flag.closed_by = outcome, now, by
    flag.save(update_fields=list(FLAG_FIELDS))
    _history(flag, by=by, kind=outcome, note=note, now=now)
    audit_record(
        actor=by,
        action=f"harm_flag.{outcome}",
        obj=flag,
        before=before,
        after=audit_snapshot(flag, FLAG_FIELDS),
        note=note,
    )
    return flag


@transaction.atomic
def harm_flag_reopen(*, flag: HarmFlag, by: User, note: str, now=None) -> HarmFlag:
    """Put a closed flag back on the open list, saying why."""
    note = _note(note)
    now = now or timezone.now()
    flag = _locked(flag)
    if flag.status == HarmFlag.Status.OPEN:
        raise ValidationError("This flag is already open.", code="already_open")
    newer = (
        HarmFlag.objects.filter(user_id=flag.user_id, rule=flag.rule, status=HarmFlag.Status.OPEN)
        .values_list("pk", flat=True)
        .first()
    )
    if newer is not None:
        raise ValidationError(
            f"The customer already has an open flag for this rule (#{newer}): add to that one.",
            code="open_flag_exists",
        )
    before = audit_snapshot(flag, FLAG_FIELDS)
    flag.status, flag.closed_at, flag.closed_by = HarmFlag.Status.OPEN, None, None
    try:
        with transaction.atomic():
            flag.save(update_fields=list(FLAG_FIELDS))
    except IntegrityError:  # a scan opened one a moment ago
        raise ValidationError(
            "The customer already has an open flag for this rule: add to that one.",
            code="open_flag_exists",
        ) from None
    _history(flag, by=by, kind=HarmAction.Kind.REOPENED, note=note, now=now)
    audit_record(
        actor=by,
        action="harm_flag.reopened",
        obj=flag,
        before=before,
        after=audit_snapshot(flag, FLAG_FIELDS),
        note=note,
    )
    return flag


@transaction.atomic
def harm_flag_set_limit(
    *, flag: HarmFlag, by: User, monthly_limit: Decimal, note: str, now=None
) -> SpendLimit:
    """Set the customer's monthly spending limit on staff's decision. As for the customer's
    own requests, a lower limit is in force at once and a higher one after the cooling-off."""
    note = _note(note)
    if monthly_limit is None:
        raise ValidationError({"monthly_limit": "Enter a monthly limit."}, code="required")
    now = now or timezone.now()
    user = flag.user
    before = {"monthly_limit": monthly_limit_for(user, now)}
    request = spend_limit_set(user=user, monthly_limit=monthly_limit, by=by, now=now)
    if request.effective_at <= now:
        when = "in force now"
    else:
        when = f"in force from {timezone.localtime(request.effective_at):%-d %b %Y %H:%M}"
    _history(
        flag,
        by=by,
        kind=HarmAction.Kind.LIMIT_SET,
        note=f"{money(request.monthly_limit)} a month, {when}. {note}",
        now=now,
    )
    audit_record(
        actor=by,
        action="harm_flag.limit_set",
        obj=flag,
        before=before,
        after={
            "monthly_limit": request.monthly_limit,
            "effective_at": request.effective_at,
            "spend_limit_id": request.pk,
        },
        note=note,
    )
    return request


@transaction.atomic
def harm_flag_impose_break(
    *, flag: HarmFlag, by: User, kind: str, length: int, note: str, now=None
) -> User:
    """Stop the customer buying (and all marketing to them): a break of `length` days or a
    self-exclusion of `length` months, through the same services as the customer's own choice.
    One already in force is never shortened."""
    note = _note(note)
    now = now or timezone.now()
    try:
        if kind == ExclusionKind.BREAK:
            user = user_take_break(user=flag.user, days=length, by=by, now=now)
        elif kind == ExclusionKind.SELF_EXCLUSION:
            user = user_self_exclude(user=flag.user, months=length, by=by, now=now)
        else:
            raise ValidationError({"kind": "Choose a break or a self-exclusion."}, code="kind")
    except ValidationError as refusal:
        if getattr(refusal, "code", None) == "exclusion_in_force":
            raise ValidationError(
                "The customer already has a longer break or exclusion in force; it can’t be "
                "shortened.",
                code="exclusion_in_force",
            ) from None
        if hasattr(refusal, "error_dict") and refusal.error_dict.keys() & {"days", "months"}:
            raise ValidationError({"length": refusal.messages}, code="length") from None
        raise
    until = f"{timezone.localtime(user.excluded_until):%-d %b %Y}"
    _history(
        flag,
        by=by,
        kind=HarmAction.Kind.BREAK,
        note=f"{user.get_exclusion_kind_display()} until {until}. {note}",
        now=now,
    )
    audit_record(
        actor=by,
        action="harm_flag.break",
        obj=flag,
        after={"exclusion_kind": user.exclusion_kind, "excluded_until": user.excluded_until},
        note=note,
    )
    return user
