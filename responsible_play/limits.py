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

from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import DecimalField
from django.utils import timezone

from accounts.models import User
from core.models import OperatorSettings

from .models import SpendLimit, SpendLimitPrompt

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


def spend_limit_prompt_shown(*, user: User, now=None) -> None:
    """Note that the customer has been asked to set a limit (the first time only)."""
    SpendLimitPrompt.objects.bulk_create(
        [SpendLimitPrompt(user=user, shown_at=now or timezone.now())], ignore_conflicts=True
    )
