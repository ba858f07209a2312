"""The code of practice in figures: what How we comply shows beside each rule, and the staff
report (backoffice) downloads. Computed from the data, never typed in, in a fixed number of
queries however many competitions, customers or tickets there are (each is one aggregate, or
a grouping whose rows are bounded by something small: days, or competitions with instant
wins). Nothing here reads the ticket table: the counts come from the rows each rule leaves
behind (refunds, postal entries, limits, complaints, draw checks, skill-answer counters).

Figures that mean "how often did we break a rule" (competitions opened for less than the
minimum, instant wins as the larger share) are counted, not asserted: when the rule holds they
come out 0 because nothing broke it.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import (
    Count,
    DateField,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Greatest, TruncDate
from django.utils import timezone

from accounts.models import ExclusionKind, User
from competitions.lifecycle import LIVE, Status
from competitions.models import Competition, Prize, SkillAnswerStats
from competitions.services import clear_days_between
from complaints.models import Complaint
from core.models import AuditEntry, OperatorSettings
from draws.models import Draw
from responsible_play.models import SpendLimit
from tickets.models import PostalEntry, Refund

WINDOW = timedelta(days=30)
SINCE_LAUNCH = "Since launch"
LAST_30_DAYS = "Last 30 days"
ZERO = Decimal("0")
MONEY = DecimalField(max_digits=14, decimal_places=2)
# Where prizes count towards the instant-win share: on sale, closed or drawn; never drafts
# (not offered) or cancelled competitions (nothing was given).
OFFERED = (*LIVE, Status.DRAWN)


@dataclass(frozen=True)
class Figure:
    """One figure: its name, the value as shown, what it means and the period it covers.
    `number` is the value itself (a count, a share in percent, days), for tests and the CSV."""

    name: str
    value: str
    meaning: str
    period: str
    number: float | int | None = None


@dataclass
class ComplianceFigures:
    as_at: datetime
    sections: dict[str, list[Figure]] = field(default_factory=dict)

    def __getitem__(self, section: str) -> list[Figure]:
        # A KeyError for anything else lets templates reach the attributes (`figures.as_at`).
        return self.sections[section]

    def rows(self):
        """(section, figure) in page order, for the report."""
        for section, figures in self.sections.items():
            for figure in figures:
                yield section, figure


# Section names as the page and the report show them (anchors on How we comply).
SECTIONS = {
    "competitions": "Fair competitions",
    "instant_wins": "Instant wins",
    "cards": "Paying by card",
    "spending": "Spending limits",
    "breaks": "Breaks and self-exclusion",
    "free_entry": "Free entry by post",
    "draws": "How winners are chosen",
    "complaints": "Complaints",
}


def _percent(part, whole) -> float | None:
    return float(part) * 100 / float(whole) if whole else None


def _shown(percent: float | None, *, none: str = "None yet") -> str:
    if percent is None:
        return none
    return f"{percent:.0f}%" if float(percent).is_integer() else f"{percent:.1f}%"


def _plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else many or word + 's'}"


def compliance_figures(
    now: datetime | None = None, *, rules: OperatorSettings | None = None
) -> ComplianceFigures:
    """Every figure, as at `now`. `rules`: the operator settings already read, if any."""
    now = now or timezone.now()
    rules = rules or OperatorSettings.current()
    figures = ComplianceFigures(as_at=now)
    figures.sections = {
        "competitions": _competitions(now, rules),
        "instant_wins": _instant_wins(),
        "cards": _cards(now),
        **_spending(now),
        "free_entry": _postal(now),
        "draws": _draws(),
        "complaints": _complaints(now),
    }
    return figures


# ---------------------------------------------------------------- fair competitions


def _competitions(now, rules: OperatorSettings) -> list[Figure]:
    """Competitions opened for fewer clear days than the operator's minimum (checked at
    activation, competitions.services.competition_activate; dates moved later are not), and
    how often skill questions are answered wrongly."""
    minimum = rules.min_open_clear_days
    opened = Competition.objects.filter(activated_at__isnull=False).exclude(status=Status.DRAFT)
    counts = opened.aggregate(
        total=Count("id"), recent=Count("id", filter=Q(activated_at__gte=now - WINDOW))
    )
    short = recent_short = 0
    if minimum:
        # Only a competition open for fewer calendar days than this can be short of the
        # minimum in clear days (two end days, and at most one Sunday in each seven), so only
        # those few are read and judged exactly in Python.
        bound = timedelta(days=minimum + 2 + minimum // 6 + 1)
        candidates = opened.annotate(opens=Greatest("starts_at", "activated_at")).filter(
            ends_at__lt=F("opens") + bound
        )
        for opens, closes, activated in candidates.values_list("opens", "ends_at", "activated_at"):
            if clear_days_between(opens, closes) < minimum:
                short += 1
                recent_short += activated >= now - WINDOW
    rule = (
        f"each must be open at least {_plural(minimum, 'clear day')} (Sundays not counted)"
        if minimum
        else "we set no minimum open time"
    )
    stats = SkillAnswerStats.objects.aggregate(
        answered=Coalesce(Sum("answered"), 0), wrong=Coalesce(Sum("wrong"), 0)
    )
    wrong = _percent(stats["wrong"], stats["answered"])
    return [
        Figure(
            "Competitions opened for less than the minimum",
            f"{short:,} of {counts['total']:,}",
            f"Competitions that opened for fewer days than our rule allows: {rule}.",
            SINCE_LAUNCH,
            short,
        ),
        Figure(
            "Competitions opened for less than the minimum",
            f"{recent_short:,} of {counts['recent']:,}",
            "The same, for competitions opened in the last 30 days.",
            LAST_30_DAYS,
            recent_short,
        ),
        Figure(
            "Wrong answers to skill questions",
            _shown(wrong),
            f"Of {_plural(stats['answered'], 'answer')} given with paid entries, the share that "
            "were wrong. A wrong answer is not entered in the draw.",
            SINCE_LAUNCH,
            wrong,
        ),
    ]


# ---------------------------------------------------------------- instant wins


def _instant_wins() -> list[Figure]:
    """Instant-win prizes' share of all prize value offered, overall and in the competition
    where it is highest (the rule: never the majority of a competition's prizes)."""
    instant = Q(kind=Prize.Kind.INSTANT)
    # An instant-win prize is `quantity` prizes of `value` each (e.g. £10 cash × 20).
    prizes = Prize.objects.filter(competition__status__in=OFFERED)
    worth = ExpressionWrapper(F("value") * F("quantity"), output_field=MONEY)
    zero = Value(ZERO, output_field=MONEY)
    totals = prizes.aggregate(
        total=Coalesce(Sum(worth), zero), instant=Coalesce(Sum(worth, filter=instant), zero)
    )
    by_competition = list(
        prizes.values("competition_id", "competition__title")
        .annotate(total=Sum(worth), instant=Sum(worth, filter=instant))
        .filter(instant__gt=0)
        .order_by("competition_id")
    )
    highest, title = None, ""
    majority = 0
    for row in by_competition:
        share = _percent(row["instant"], row["total"])
        majority += share is not None and share > 50
        if share is not None and (highest is None or share > highest):
            highest, title = share, row["competition__title"]
    share = _percent(totals["instant"], totals["total"])
    return [
        Figure(
            "Instant wins’ share of prize value",
            _shown(share),
            f"Instant-win prizes are worth £{totals['instant']:,.2f} of the £{totals['total']:,.2f}"
            " of prizes in our competitions on sale, closed or drawn.",
            SINCE_LAUNCH,
            share,
        ),
        Figure(
            "Highest instant-win share in one competition",
            _shown(highest, none="No instant wins yet"),
            f"In “{title}”. Instant wins are never the larger part of a competition’s prizes."
            if title
            else "No competition has offered instant wins yet.",
            SINCE_LAUNCH,
            highest,
        ),
        Figure(
            "Competitions where instant wins were the larger share",
            f"{majority:,}",
            "Competitions whose instant-win prizes were worth more than half of all their prizes.",
            SINCE_LAUNCH,
            majority,
        ),
    ]


# ---------------------------------------------------------------- cards


def _cards(now) -> list[Figure]:
    """Credit-card payments refused under the code (tickets.cards): each is refunded in full
    automatically, with a Refund of reason "credit_card"."""
    refused = Refund.objects.filter(reason=Refund.Reason.CREDIT_CARD).aggregate(
        total=Count("id"),
        recent=Count("id", filter=Q(created_at__gte=now - WINDOW)),
        amount=Coalesce(Sum("amount"), Value(ZERO, output_field=MONEY)),
    )
    return [
        Figure(
            "Credit-card payments refused and refunded",
            f"{refused['total']:,}",
            f"Payments by credit card over the monthly credit-card limit or for an instant-win "
            f"competition, refunded in full automatically (£{refused['amount']:,.2f} in all).",
            SINCE_LAUNCH,
            refused["total"],
        ),
        Figure(
            "Credit-card payments refused and refunded",
            f"{refused['recent']:,}",
            "The same, in the last 30 days.",
            LAST_30_DAYS,
            refused["recent"],
        ),
    ]


# ---------------------------------------------------------------- spending and exclusion


def _spending(now) -> dict[str, list[Figure]]:
    customers = User.objects.filter(is_staff=False).aggregate(
        total=Count("id"),
        prompted=Count("id", filter=Q(spend_limit_prompt__isnull=False)),
        self_excluded=Count(
            "id",
            filter=Q(exclusion_kind=ExclusionKind.SELF_EXCLUSION, excluded_until__gt=now),
        ),
    )
    # The limit in force is each customer's latest effective request (responsible_play.limits);
    # a customer has one when that request sets an amount.
    latest = (
        SpendLimit.objects.filter(
            user=OuterRef("user"), cancelled_at__isnull=True, effective_at__lte=now
        )
        .order_by("-requested_at", "-id")
        .values("id")[:1]
    )
    limits = SpendLimit.objects.filter(
        cancelled_at__isnull=True,
        effective_at__lte=now,
        monthly_limit__isnull=False,
        user__is_staff=False,
        pk=Subquery(latest),
    ).count()
    # The audit log keeps every self-exclusion, including those that have ended.
    ever = AuditEntry.objects.filter(action=f"user.{ExclusionKind.SELF_EXCLUSION}").aggregate(
        customers=Count("object_id", distinct=True)
    )["customers"]
    prompted = _percent(customers["prompted"], customers["total"])
    limit_figures = [
        Figure(
            "Customers asked to set a spending limit",
            f"{customers['prompted']:,} of {customers['total']:,}",
            "Customers shown the “set a monthly limit” step when they joined "
            f"({_shown(prompted, none='no customers yet')}).",
            SINCE_LAUNCH,
            customers["prompted"],
        ),
        Figure(
            "Personal spending limits in force",
            f"{limits:,}",
            "Customers with a monthly limit of their own in force today (the operator’s cap "
            "applies to everyone else).",
            "Today",
            limits,
        ),
    ]
    exclusion_figures = [
        Figure(
            "Self-exclusions in force",
            f"{customers['self_excluded']:,}",
            "Customers self-excluded today; none can buy or receive marketing until it ends.",
            "Today",
            customers["self_excluded"],
        ),
        Figure(
            "Customers who have self-excluded",
            f"{ever:,}",
            "Everyone who has ever chosen to self-exclude, including exclusions that have ended.",
            SINCE_LAUNCH,
            ever,
        ),
    ]
    return {"spending": limit_figures, "breaks": exclusion_figures}


# ---------------------------------------------------------------- postal entries


def _median_days(histogram: dict[int, int]) -> float | None:
    """The median of a {days: how many} histogram."""
    total = sum(histogram.values())
    if not total:
        return None
    middle, seen, values = (total - 1) / 2, 0, []
    for days in sorted(histogram):
        for position in (int(middle), int(middle + 0.5)):
            if seen <= position < seen + histogram[days]:
                values.append(days)
        seen += histogram[days]
    return sum(values[:2]) / len(values[:2])


def _days(median: float | None) -> str:
    if median is None:
        return "None yet"
    if median == 0:
        return "Same day"
    return f"{median:g} day{'' if median == 1 else 's'}"


def _postal(now) -> list[Figure]:
    """Free postal entries recorded, and how long from the postcard arriving to the entry
    being recorded: the days are a handful of values, so the median comes from one grouped
    count per day, whatever the number of entries."""
    entries = PostalEntry.objects.aggregate(
        total=Coalesce(Sum("quantity"), 0),
        recent=Coalesce(Sum("quantity", filter=Q(recorded_at__gte=now - WINDOW)), 0),
    )
    waited = ExpressionWrapper(
        TruncDate("recorded_at", output_field=DateField()) - F("received_on"),
        output_field=DurationField(),
    )
    histogram: dict[int, int] = {}
    recent_histogram: dict[int, int] = {}
    rows = (
        PostalEntry.objects.filter(received_on__isnull=False)
        .annotate(waited=waited)
        .values("waited")
        .annotate(count=Count("id"), recent=Count("id", filter=Q(recorded_at__gte=now - WINDOW)))
        .order_by()
    )
    for row in rows:
        days = max(row["waited"].days, 0) if row["waited"] is not None else 0
        histogram[days] = histogram.get(days, 0) + row["count"]
        if row["recent"]:
            recent_histogram[days] = recent_histogram.get(days, 0) + row["recent"]
    median = _median_days(histogram)
    recent_median = _median_days(recent_histogram)
    return [
        Figure(
            "Free postal entries recorded",
            f"{entries['total']:,}",
            "Entries received by post and entered, with the same chance as a paid ticket.",
            SINCE_LAUNCH,
            entries["total"],
        ),
        Figure(
            "Free postal entries recorded",
            f"{entries['recent']:,}",
            "The same, in the last 30 days.",
            LAST_30_DAYS,
            entries["recent"],
        ),
        Figure(
            "Time to enter a postcard (median)",
            _days(median),
            "From the day a postcard arrives to the day its entry is recorded: half take this "
            "long or less.",
            SINCE_LAUNCH,
            median,
        ),
        Figure(
            "Time to enter a postcard (median)",
            _days(recent_median),
            "The same, for entries recorded in the last 30 days.",
            LAST_30_DAYS,
            recent_median,
        ),
    ]


# ---------------------------------------------------------------- draws


def _draws() -> list[Figure]:
    """Completed draws whose last full re-check (draws.models.DrawVerification, kept by every
    run of the checks and re-run weekly by beat) passed for the draw as it stands: re-checking
    streams each ledger, far too much to do for a page view."""
    current = Q(verification__performed_at=F("performed_at"))
    draws = Draw.objects.filter(status=Draw.Status.COMPLETED).aggregate(
        total=Count("pk"),
        passed=Count("pk", filter=current & Q(verification__passed=True)),
        failed=Count("pk", filter=current & Q(verification__passed=False)),
        manual=Count("pk", filter=Q(mode=Draw.Mode.MANUAL)),
        last=Max("verification__checked_at"),
    )
    unchecked = draws["total"] - draws["passed"] - draws["failed"]
    meaning = (
        "Draws recomputed from their published seed, entry list and randomness, with the same "
        "checks as each draw page: every step matched."
    )
    if draws["failed"]:
        meaning += f" {_plural(draws['failed'], 'draw')} did not match and are being looked into."
    if unchecked:
        meaning += f" {_plural(unchecked, 'draw')} not re-checked yet."
    if draws["last"]:
        meaning += f" Last re-check: {timezone.localtime(draws['last']):%-d %B %Y, %H:%M}."
    return [
        Figure(
            "Draws verified",
            f"{draws['passed']:,} of {draws['total']:,}",
            meaning,
            SINCE_LAUNCH,
            draws["passed"],
        ),
        Figure(
            "Winners entered by hand",
            f"{draws['manual']:,}",
            "Draws whose first prize was entered by staff (e.g. drawn live on stage), shown as "
            "such on their draw page.",
            SINCE_LAUNCH,
            draws["manual"],
        ),
    ]


# ---------------------------------------------------------------- complaints


def _complaints(now) -> list[Figure]:
    answered = Q(first_response_at__isnull=False)
    in_time = answered & Q(first_response_at__lte=F("response_due_at"))
    recent = Q(created_at__gte=now - WINDOW)
    counts = Complaint.objects.aggregate(
        answered=Count("id", filter=answered),
        in_time=Count("id", filter=in_time),
        recent_answered=Count("id", filter=answered & recent),
        recent_in_time=Count("id", filter=in_time & recent),
        late_unanswered=Count(
            "id", filter=Q(first_response_at__isnull=True, response_due_at__lt=now)
        ),
        resolved=Count("id", filter=Q(resolved_at__isnull=False)),
        resolved_in_time=Count(
            "id", filter=Q(resolved_at__isnull=False, resolved_at__lte=F("resolution_due_at"))
        ),
    )
    share = _percent(counts["in_time"], counts["answered"])
    recent_share = _percent(counts["recent_in_time"], counts["recent_answered"])
    resolved = _percent(counts["resolved_in_time"], counts["resolved"])
    late = counts["late_unanswered"]
    return [
        Figure(
            "Complaints answered within our target",
            _shown(share),
            f"{counts['in_time']:,} of {_plural(counts['answered'], 'complaint')} answered got "
            "their first reply within the target time"
            + (f"; {late:,} still waiting are past it." if late else "."),
            SINCE_LAUNCH,
            share,
        ),
        Figure(
            "Complaints answered within our target",
            _shown(recent_share),
            f"{counts['recent_in_time']:,} of {counts['recent_answered']:,} complaints received "
            "in the last 30 days and answered.",
            LAST_30_DAYS,
            recent_share,
        ),
        Figure(
            "Complaints resolved within our target",
            _shown(resolved),
            f"{counts['resolved_in_time']:,} of {_plural(counts['resolved'], 'complaint')} "
            "resolved.",
            SINCE_LAUNCH,
            resolved,
        ),
    ]
