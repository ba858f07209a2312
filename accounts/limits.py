"""Spend limits: what a customer may spend on tickets in a calendar month (UK time).

Two limits apply together, and the lower wins:
- the operator's cap for every customer (OperatorSettings.monthly_spend_cap, blank for none);
- the customer's own limit from "My limits" (none, any amount, or £0).
Lowering one's own limit takes effect at once; raising or removing it only after the cooling-off
period (OperatorSettings.limit_cooling_off_hours), so a limit is never lifted in the heat of a moment.
Every request is kept as a SpendLimit row: that is the record of changes.

`spend_check` is called by tickets.services.order_reserve inside its transaction, after it has
locked the customer's row, so two checkouts at once cannot both squeeze under the limit.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import DecimalField, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import OperatorSettings, SpendLimit, User

ZERO = Decimal("0.00")
MONEY = DecimalField(max_digits=12, decimal_places=2)
MAX_LIMIT = Decimal("99999999.99")


def money(amount: Decimal) -> str:
    return f"£{amount:,.2f}"


def operator_cap(operator: OperatorSettings | None = None) -> Decimal | None:
    """The operator's monthly cap for every customer, as set in admin (None: no cap). Read
    afresh each time unless the caller passes the row it read for this purchase, so a purchase
    sees the value in force inside its own transaction."""
    return (operator or OperatorSettings.current()).monthly_spend_cap


def cooling_off() -> timedelta:
    return timedelta(hours=OperatorSettings.current().limit_cooling_off_hours)


def month_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The UK calendar month containing `now`, as aware datetimes [start, end)."""
    local = timezone.localtime(now)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    following = (start + timedelta(days=32)).replace(day=1)
    # Re-localise: the month may start in GMT and end in BST (or the reverse).
    tz = timezone.get_current_timezone()
    return (
        timezone.make_aware(start.replace(tzinfo=None), tz),
        timezone.make_aware(following.replace(tzinfo=None), tz),
    )


# ---------------------------------------------------------------- reading


def _live_requests(user: User):
    return SpendLimit.objects.filter(user=user, cancelled_at__isnull=True)


def monthly_limit_for(user: User, now: datetime | None = None) -> Decimal | None:
    """The customer's own limit in force at `now` (None: they have set none)."""
    now = now or timezone.now()
    current = (
        _live_requests(user)
        .filter(effective_at__lte=now)
        .order_by("-requested_at", "-id")
        .values_list("monthly_limit", flat=True)
        .first()
    )
    return current


def pending_limit_for(user: User, now: datetime | None = None) -> SpendLimit | None:
    """A raise (or removal) waiting for its cooling-off to end, if any."""
    now = now or timezone.now()
    return _live_requests(user).filter(effective_at__gt=now).order_by("-requested_at").first()


def spend_annotations(user_ref: str, now: datetime) -> dict:
    """Expressions for what the customer named by `user_ref` ("pk" on User, "user_id" on a row
    pointing at one) spent this UK month, paid (less refunds) and held by live checkouts, and
    their own limit in force: `monthly_spend` and `monthly_limit_for` as subqueries, so the
    purchase check reads them in one query and the harm scan for many customers at once."""
    from tickets.models import NET_PAID, Order

    start, end = month_bounds(now)
    zero = Value(ZERO, output_field=MONEY)
    orders = Order.objects.filter(user=OuterRef(user_ref)).order_by().values("user")
    paid = orders.paid_between(start, end).annotate(total=Sum(NET_PAID, output_field=MONEY))
    held = orders.holding(now).annotate(total=Sum("total", output_field=MONEY))
    personal = (
        _live_requests(OuterRef(user_ref))
        .filter(effective_at__lte=now)
        .order_by("-requested_at", "-id")
        .values("monthly_limit")[:1]
    )
    return {
        "month_paid": Coalesce(Subquery(paid.values("total"), output_field=MONEY), zero),
        "month_held": Coalesce(Subquery(held.values("total"), output_field=MONEY), zero),
        "personal_limit": Subquery(personal, output_field=MONEY),
    }


def _spend_row(user: User, now: datetime):
    """The customer with `spend_annotations`, in one query."""
    return User.objects.filter(pk=user.pk).annotate(**spend_annotations("pk", now)).only("pk").get()


def monthly_spend(user: User, now: datetime | None = None) -> Decimal:
    """What the customer has spent this UK month: paid orders (less refunds) paid this month,
    plus checkouts still holding tickets (they become spend when paid)."""
    row = _spend_row(user, now or timezone.now())
    return Decimal(row.month_paid + row.month_held)


@dataclass(frozen=True)
class SpendPosition:
    personal: Decimal | None
    cap: Decimal | None
    spent: Decimal

    @property
    def limit(self) -> Decimal | None:
        """The lower of the two limits (None: neither applies)."""
        limits = [x for x in (self.personal, self.cap) if x is not None]
        return min(limits) if limits else None

    @property
    def limited_by_cap(self) -> bool:
        return self.cap is not None and (self.personal is None or self.cap < self.personal)

    @property
    def left(self) -> Decimal | None:
        return None if self.limit is None else max(self.limit - self.spent, ZERO)


def position_of(row, cap: Decimal | None) -> SpendPosition:
    """The spend position of a row annotated with `spend_annotations`."""
    return SpendPosition(
        personal=row.personal_limit, cap=cap, spent=Decimal(row.month_paid + row.month_held)
    )


def spend_position(
    user: User, now: datetime | None = None, *, operator: OperatorSettings | None = None
) -> SpendPosition:
    """Where the customer stands this month (`operator`: the settings row the caller has
    already read, else it is read here)."""
    return position_of(_spend_row(user, now or timezone.now()), operator_cap(operator))


def spend_check(
    *,
    user: User,
    amount: Decimal,
    now: datetime | None = None,
    operator: OperatorSettings | None = None,
) -> None:
    """Refuse an order of `amount` that would take the customer over a monthly limit. Call it
    with the customer's row locked (see the module docstring)."""
    from tickets.exceptions import SpendLimitReached

    if amount <= 0:
        return
    position = spend_position(user, now, operator=operator)
    limit = position.limit
    if limit is None or position.spent + amount <= limit:
        return
    whose = (
        f"the monthly limit of {money(limit)} we set for every customer"
        if position.limited_by_cap
        else f"your monthly limit of {money(limit)}"
    )
    if limit == 0:
        raise SpendLimitReached(
            "Your monthly spending limit is £0.00, so you can’t buy tickets. "
            "You can change it in My limits."
        )
    raise SpendLimitReached(
        f"This order ({money(amount)}) would take you over {whose}: "
        f"you can spend {money(position.left)} more this month."
    )


# ---------------------------------------------------------------- changing


@transaction.atomic
def spend_limit_set(
    *, user: User, monthly_limit: Decimal | None, by: User | None = None, now=None
) -> SpendLimit:
    """Ask for a new monthly limit (None: no personal limit). Lower or equal: in force now.
    Higher, or removing it: in force after the cooling-off. A request still waiting is
    superseded by this one either way."""
    now = now or timezone.now()
    if monthly_limit is not None:
        if monthly_limit < 0:
            raise ValidationError({"monthly_limit": "A limit can’t be negative."})
        if monthly_limit > MAX_LIMIT:
            raise ValidationError({"monthly_limit": "That limit is too large."})
        monthly_limit = monthly_limit.quantize(Decimal("0.01"))
    # Serialise one customer's changes, so two requests cannot both read the old limit.
    User.objects.select_for_update().filter(pk=user.pk).first()
    current = monthly_limit_for(user, now)
    lowering = monthly_limit is not None and (current is None or monthly_limit <= current)
    _live_requests(user).filter(effective_at__gt=now).update(cancelled_at=now)
    return SpendLimit.objects.create(
        user=user,
        monthly_limit=monthly_limit,
        requested_at=now,
        effective_at=now if lowering else now + cooling_off(),
        created_by=by if by is not None else user,
    )
