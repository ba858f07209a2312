"""What a customer has spent this UK month, and the purchase-time check against their
monthly limits (responsible_play.limits says which limits are in force).

`spend_check` is called by the reservation service inside its transaction, after it has
locked the customer's row, so two checkouts at once cannot both squeeze under the limit."""

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from django.db.models import OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from core.models import OperatorSettings
from responsible_play.limits import MONEY, ZERO, _live_requests, money, month_bounds, operator_cap

from .exceptions import SpendLimitReached
from .models import NET_PAID, Order


def spend_annotations(user_ref: str, now: datetime) -> dict:
    """Expressions for what the customer named by `user_ref` ("pk" on User, "user_id" on a row
    pointing at one) spent this UK month, paid (less refunds) and held by live checkouts, and
    their own limit in force: `monthly_spend` and `monthly_limit_for` as subqueries, so the
    purchase check reads them in one query and the harm scan for many customers at once."""
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


def spend_row(user: User, now: datetime):
    """The customer with `spend_annotations`, in one query."""
    return User.objects.filter(pk=user.pk).annotate(**spend_annotations("pk", now)).only("pk").get()


def monthly_spend(user: User, now: datetime | None = None) -> Decimal:
    """What the customer has spent this UK month: paid orders (less refunds) paid this month,
    plus checkouts still holding tickets (they become spend when paid)."""
    row = spend_row(user, now or timezone.now())
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
    return position_of(spend_row(user, now or timezone.now()), operator_cap(operator))


def spend_check(
    *,
    user: User,
    amount: Decimal,
    now: datetime | None = None,
    operator: OperatorSettings | None = None,
    releasing: Decimal = ZERO,
    position: SpendPosition | None = None,
) -> None:
    """Refuse an order of `amount` that would take the customer over a monthly limit. Call it
    with the customer's row locked (see the module docstring). `releasing`: what the
    customer's open checkout holds, given back in the same transaction (tickets.services).
    `position`: the customer's `spend_position`, if the caller read it under that lock."""
    if amount <= 0:
        return
    position = position or spend_position(user, now, operator=operator)
    if releasing:
        position = replace(position, spent=max(position.spent - releasing, ZERO))
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
