"""What an order costs: each line at its best bundle price (competitions.pricing), then the
discount code, if any, off the lines it covers. The basket shows it and `order_reserve`
charges it, computed on the server from the competitions' rows: a price the browser posts is
never read.

Rules (docs/architecture.md §3, "Prices"):
- Money is Decimal pounds, rounded once to whole pence with ROUND_HALF_UP.
- A percentage code takes that percentage of what its lines cost after bundles, rounded
  once for the order (33% of £2.50 is £0.825, so £0.83), not line by line.
- A fixed code takes its amount, at most what its lines cost less a penny a ticket (so
  every ticket keeps a price that a refund can return).
- Either way the order still costs at least FAIRDRAW_MIN_CHARGE (£0.30, the smallest card payment
  Stripe takes in pounds): a code never makes a paid entry free. Free entry is the postal
  route's, recorded as such; a £0 "paid" order would be neither. An order already at the
  minimum gets nothing off, and the code is refused with a message saying why.
- The discount is shared between the lines it covers in proportion to their cost, in whole
  pence (largest remainder), so each line knows what was paid for it: receipts and refunds
  read `OrderLine.line_total`, and the lines always add up to the order's total.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils import timezone

from competitions.models import Bundle, Competition
from competitions.pricing import LinePrice, best_price, offers_of, to_pence, to_pounds

from .exceptions import CodeRefused
from .models import DiscountCode, DiscountRedemption, Order

PENNY = Decimal("0.01")
ZERO = Decimal("0.00")


def min_charge() -> Decimal:
    """FAIRDRAW_MIN_CHARGE: the least an order may cost once a code is taken off."""
    return Decimal(str(settings.FAIRDRAW_MIN_CHARGE)).quantize(PENNY)


def bundles_for(competition_ids) -> dict[int, list]:
    """Each competition's bundles, in one query."""
    found: dict[int, list] = {}
    for bundle in Bundle.objects.filter(competition_id__in=list(competition_ids)).order_by():
        found.setdefault(bundle.competition_id, []).append(bundle)
    return found


def line_price(competition: Competition, quantity: int, bundles=None) -> LinePrice:
    if bundles is None:
        bundles = competition.bundles.all()
    return best_price(quantity, competition.ticket_price, offers_of(bundles))


@dataclass
class PricedLine:
    competition: Competition
    price: LinePrice
    code_discount: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        """What the customer pays for this line."""
        return self.price.total - self.code_discount


@dataclass
class Quote:
    lines: list[PricedLine]
    code: DiscountCode | None = None
    discount: Decimal = ZERO
    problem: str = ""  # why the basket's code is not applied, for the customer
    notes: list[str] = field(default_factory=list)

    @property
    def subtotal(self) -> Decimal:
        """At single prices."""
        return sum((x.price.subtotal for x in self.lines), ZERO)

    @property
    def bundle_saving(self) -> Decimal:
        return sum((x.price.saving for x in self.lines), ZERO)

    @property
    def total(self) -> Decimal:
        return sum((x.total for x in self.lines), ZERO)

    def line_for(self, competition_id: int) -> PricedLine | None:
        return next((x for x in self.lines if x.competition.pk == competition_id), None)


def normalise(code: str) -> str:
    return "".join((code or "").split()).upper()


def code_find(text: str) -> DiscountCode:
    code = normalise(text)
    found = (
        DiscountCode.objects.select_related("competition").filter(code=code).first()
        if code and len(code) <= 32
        else None
    )
    if found is None:
        raise CodeRefused(f"We don’t recognise the code “{code[:32]}”. Check it and try again.")
    return found


def code_refusal(code: DiscountCode, *, user=None, now=None) -> str | None:
    """Why `code` cannot be used now by `user` (None: it can), as the customer reads it.
    Checkout holds this again: the per-customer count under the customer's lock, the total
    under the code's row (tickets.services.discounts)."""
    now = now or timezone.now()
    if not code.is_active:
        return f"The code {code} is no longer available."
    if code.valid_from and now < code.valid_from:
        return f"The code {code} can be used from {timezone.localtime(code.valid_from):%-d %B %Y}."
    if code.valid_until and now >= code.valid_until:
        return f"The code {code} expired on {timezone.localtime(code.valid_until):%-d %B %Y}."
    if code.max_uses is not None and code.uses >= code.max_uses:
        return f"The code {code} has been used up."
    limit = code.max_uses_per_customer
    if limit is not None and user is not None and getattr(user, "is_authenticated", False):
        # Their open checkout's use is not counted: the next checkout gives it back.
        used = customer_uses(code, user, excluding_pending=True)
        if used >= limit:
            return (
                f"You have already used the code {code}."
                if code.max_uses_per_customer == 1
                else f"You have used the code {code} {used} times, the most allowed."
            )
    return None


def customer_uses(
    code: DiscountCode, user, *, excluding_orders=(), excluding_pending: bool = False
) -> int:
    """The customer's redemptions of `code` that hold (not released)."""
    found = DiscountRedemption.objects.filter(code=code, user=user, released_at__isnull=True)
    if excluding_orders:
        found = found.exclude(order_id__in=list(excluding_orders))
    if excluding_pending:
        found = found.exclude(order__status=Order.Status.PENDING)
    return found.order_by().count()


def price_lines(lines: Sequence, *, bundles: dict[int, list] | None = None) -> list[PricedLine]:
    """`lines`: anything with `competition` and `count` (basket lines, checked order lines)."""
    if bundles is None:
        bundles = bundles_for({x.competition.pk for x in lines})
    return [
        PricedLine(
            x.competition, line_price(x.competition, x.count, bundles.get(x.competition.pk, ()))
        )
        for x in lines
    ]


def apply_code(priced: list[PricedLine], code: DiscountCode) -> Decimal:
    """Take `code` off the lines it covers (module docstring); returns the discount. Raises
    CodeRefused if it covers none, the minimum spend is not met, or nothing can come off."""
    covered = [x for x in priced if code.competition_id in (None, x.competition.pk)]
    if not covered:
        raise CodeRefused(
            f"The code {code} is for “{code.competition.title}”: add its tickets to use it."
        )
    base = sum((x.price.total for x in covered), ZERO)
    if code.min_spend and base < code.min_spend:
        raise CodeRefused(
            f"The code {code} needs a spend of at least £{code.min_spend}"
            + (f" on “{code.competition.title}”" if code.competition_id else "")
            + f"; this basket is £{base}."
        )
    if code.kind == DiscountCode.Kind.PERCENT:
        wanted = (base * code.percent / 100).quantize(PENNY, rounding=ROUND_HALF_UP)
    else:
        wanted = code.amount
    order_total = sum((x.price.total for x in priced), ZERO)
    # Each ticket it covers keeps at least a penny, so every ticket has a price to refund.
    floor = PENNY * sum(x.price.quantity for x in covered)
    discount = max(min(wanted, base - floor, order_total - min_charge()), ZERO)
    if discount <= 0:
        raise CodeRefused(
            f"This order is too small for the code {code}: a card payment is at least "
            f"£{min_charge()}."
        )
    _share(covered, discount)
    return discount


def _share(lines: list[PricedLine], discount: Decimal) -> None:
    """Split `discount` between `lines` in proportion to their cost, in whole pence that add up
    exactly (largest remainder; ties to the earlier line)."""
    pence = to_pence(discount)
    costs = [to_pence(x.price.total) for x in lines]
    whole = sum(costs)
    shares = [pence * c // whole for c in costs]
    order = sorted(range(len(lines)), key=lambda i: (-(pence * costs[i] % whole), i))
    for i in order[: pence - sum(shares)]:
        shares[i] += 1
    for line, share in zip(lines, shares, strict=True):
        line.code_discount = to_pounds(share)


def quote(lines: Sequence, *, code_text: str = "", user=None, now=None) -> Quote:
    """The basket's price: lines at bundle prices, and the code if it applies now. A code that
    does not apply is left out with `problem` saying why (the basket shows it)."""
    result = Quote(price_lines(lines))
    if not code_text or not result.lines:
        return result
    try:
        code = code_find(code_text)
        problem = code_refusal(code, user=user, now=now)
        if problem:
            raise CodeRefused(problem)
        result.discount = apply_code(result.lines, code)
        result.code = code
    except CodeRefused as refusal:
        result.problem = str(refusal)
        for line in result.lines:
            line.code_discount = ZERO
    return result


def refund_share(*, paid: Decimal, quantity: int, refunded_before: int, count: int) -> Decimal:
    """What `count` more tickets of a line are refunded at, `refunded_before` of its `quantity`
    being refunded already: the line's price paid (`paid`: after bundles and code) spread
    evenly, in whole pence, so that refunding the whole line one ticket at a time or all at
    once returns exactly what was paid. (5 for £4.00 bought, one refunded: £0.80.)"""
    pence = to_pence(paid)

    def returned(tickets: int) -> int:  # the first `tickets` tickets' share, rounded half up
        return (pence * tickets * 2 + quantity) // (quantity * 2)

    after = min(refunded_before + count, quantity)
    return to_pounds(returned(after) - returned(min(refunded_before, quantity)))
