"""Presentation helpers for Fairdraw's pages: money, odds, countdowns and entry presets.

Money is formatted from Decimal all the way through: a float never touches a price.
"""

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.conf import settings
from django.utils import timezone

from competitions.models import ordinal as _ordinal
from competitions.pricing import best_price, offers_of

register = template.Library()

PENNY = Decimal("0.01")
# Ticket bundles offered on the entry form, trimmed to what the customer may still buy.
QUANTITY_PRESETS = (1, 5, 10, 25, 50, 100)
POPULAR_QUANTITY = 10


def _as_decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    try:
        # str() first so a stray float becomes its shortest decimal spelling, not its binary one.
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


@register.filter
def money(value, style: str = "") -> str:
    """£1,234.00 from a Decimal. `money:"short"` drops the pence of whole amounts: £50,000."""
    amount = _as_decimal(value)
    if amount is None:
        return ""
    amount = amount.quantize(PENNY, rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if style == "short" and amount == amount.to_integral_value():
        return f"{sign}£{amount:,.0f}"
    return f"{sign}£{amount:,.2f}"


@register.filter
def percent(part, whole) -> str:
    """Whole per cent of `part` in `whole`, rounded down, never shown as 0% once something
    has happened (a competition with one ticket sold of 100,000 reads "<1%", not "0%")."""
    try:
        part, whole = int(part), int(whole)
    except (TypeError, ValueError):
        return ""
    if whole <= 0:
        return "0%"
    share = min(100, part * 100 // whole)
    if share == 0 and part > 0:
        return "<1%"
    return f"{share}%"


@register.filter
def ordinal(value) -> str:
    """1 → 1st, 2 → 2nd, 11 → 11th."""
    try:
        return _ordinal(int(value))
    except (TypeError, ValueError):
        return ""


@register.filter
def initials(name) -> str:
    """'Sarah K.' → 'SK': the avatar shown when a winner has no photo."""
    letters = [part[0] for part in str(name or "").replace(".", " ").split() if part[0].isalpha()]
    return "".join(letters[:2]).upper() or "?"


@register.filter
def startswith(value, prefix) -> bool:
    return str(value or "").startswith(str(prefix))


@register.simple_tag
def countdown_parts(ends_at: datetime | None, now: datetime | None = None) -> dict:
    """Days/hours/minutes/seconds until `ends_at`, rendered on the server so a countdown
    reads correctly before (or without) countdown.js taking over."""
    now = now or timezone.now()
    left = max(int((ends_at - now).total_seconds()), 0) if ends_at else 0
    days, rest = divmod(left, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    return {
        "days": days,
        "hours": f"{hours:02d}",
        "minutes": f"{minutes:02d}",
        "seconds": f"{seconds:02d}",
        "over": left == 0,
    }


@register.simple_tag
def quantity_presets(competition) -> list[dict]:
    """The quantities offered on the entry form (the usual presets and the competition's
    bundles) that it can still sell one customer, each at its best price (competitions.pricing)
    and what that saves on single tickets."""
    limit = min(competition.max_tickets_per_user, competition.tickets_left)
    if limit < 1:
        return []
    quantities = [q for q in QUANTITY_PRESETS if q <= limit]
    if limit not in quantities and limit < QUANTITY_PRESETS[-1]:
        quantities.append(limit)
    offers = offers_of(competition.bundles.all()) if competition.pk else []
    bundled = {o.quantity for o in offers if o.quantity <= limit}
    quantities = sorted(set(quantities) | bundled)
    default = POPULAR_QUANTITY if POPULAR_QUANTITY in quantities else quantities[0]
    presets = []
    for q in quantities:
        price = best_price(q, competition.ticket_price, offers)
        presets.append(
            {
                "quantity": q,
                "total": price.total,
                "saving": price.saving,
                "is_bundle": q in bundled and price.saving > 0,
                "is_default": q == default,
                "is_popular": q == POPULAR_QUANTITY,
            }
        )
    return presets


@register.simple_tag
def postal_entry_address() -> str:
    return settings.FAIRDRAW_POSTAL_ENTRY_ADDRESS


@register.simple_tag
def minimum_age() -> int:
    return settings.FAIRDRAW_MINIMUM_AGE
