"""Credit cards under the UK prize-draw code of practice.

Two rules, judged from the funding type the payment provider reports for the paying card:
- no credit card at all for an instant-win competition (one with a Prize of kind "instant");
- at most `OperatorSettings.credit_card_monthly_cap` paid by credit card per customer per UK
  calendar month (paid orders with `card_funding="credit"`, net of refunds).

A card's type is only known once the customer has paid, so a refused payment is refunded
automatically (tickets.services.order_fulfil calls `credit_card_refusal` inside its
transaction, with the customer's row locked, so two payments at once cannot both fit under the
cap). The checkout page and the provider's payment page say so up front (`payment_notice`).
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import DecimalField, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from competitions.models import Competition, Prize
from core.models import OperatorSettings
from responsible_play.limits import ZERO, money, month_bounds

from .models import NET_PAID, CardFunding, Order


def credit_card_cap(operator: OperatorSettings | None = None) -> Decimal:
    """`operator`: the settings row the caller read for this payment (default: read it)."""
    return (operator or OperatorSettings.current()).credit_card_monthly_cap


def credit_card_spend(user, now: datetime | None = None) -> Decimal:
    """What the customer has paid by credit card this UK month, less refunds."""
    start, end = month_bounds(now or timezone.now())
    zero = Value(ZERO, output_field=DecimalField(max_digits=10, decimal_places=2))
    total = (
        Order.objects.paid_between(start, end)
        .filter(user=user, card_funding=CardFunding.CREDIT)
        .aggregate(total=Coalesce(Sum(NET_PAID, output_field=DecimalField()), zero))["total"]
    )
    return Decimal(total)


def instant_win_competitions(competition_ids) -> list[Competition]:
    """The competitions among these with an instant-win prize (credit cards not accepted)."""
    ids = Prize.objects.filter(
        competition_id__in=list(competition_ids), kind=Prize.Kind.INSTANT
    ).values("competition_id")
    return list(Competition.objects.filter(pk__in=ids).order_by("pk"))


def _titles(competitions) -> str:
    return ", ".join(f"“{c.title}”" for c in competitions)


@dataclass(frozen=True)
class CreditCardPosition:
    """Where a customer stands with credit cards for a basket or an order."""

    cap: Decimal
    used: Decimal
    instant_wins: tuple[Competition, ...] = ()

    @property
    def left(self) -> Decimal:
        return max(self.cap - self.used, ZERO)

    @property
    def instant_win_ids(self) -> frozenset[int]:
        return frozenset(c.pk for c in self.instant_wins)

    @property
    def instant_win_titles(self) -> str:
        return _titles(self.instant_wins)


def credit_card_position(*, user, competition_ids, now=None) -> CreditCardPosition:
    return CreditCardPosition(
        cap=credit_card_cap(),
        used=credit_card_spend(user, now) if user is not None and user.is_authenticated else ZERO,
        instant_wins=tuple(instant_win_competitions(competition_ids)),
    )


def credit_card_refusal(
    *, user, order: Order, funding: str, now, operator: OperatorSettings | None = None
) -> str | None:
    """Why this paid order may not be kept if it was paid by a card of `funding` type, written
    for the customer; None when it may. Call it with the customer's row locked."""
    if funding != CardFunding.CREDIT:
        return None
    competition_ids = order.lines.values_list("competition_id", flat=True)
    instant = instant_win_competitions(competition_ids)
    if instant:
        return (
            f"Credit cards can’t be used for instant-win competitions ({_titles(instant)}). "
            "Please pay by debit card."
        )
    cap = credit_card_cap(operator)
    used = credit_card_spend(user, now)
    if used + order.total <= cap:
        return None
    left = max(cap - used, ZERO)
    return (
        f"Paying {money(order.total)} by credit card would take you over the "
        f"{money(cap)} a month you can pay by credit card (you have {money(left)} left this "
        "month). Please pay by debit card."
    )


def payment_notice(position: CreditCardPosition) -> str:
    """What the provider's payment page says above its Pay button (plain text)."""
    if position.instant_wins:
        return (
            "Credit cards are not accepted for instant-win competitions, and this order "
            f"includes {position.instant_win_titles}: please pay by debit card. A credit-card "
            "payment will be refunded automatically and no tickets issued."
        )
    return (
        f"Credit-card payments are limited to {money(position.cap)} a month; you have "
        f"{money(position.left)} left this month. A credit-card payment over that is refunded "
        "automatically and no tickets issued. Debit cards are not affected."
    )
