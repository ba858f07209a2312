"""What a number of tickets in one competition costs, with its multi-buy bundles.

The rule (docs/architecture.md §3, "Prices"): a line of n tickets costs the cheapest mix of
the competition's bundles and single tickets that adds up to exactly n. Found exactly by a
small dynamic programme in whole pence, so a customer never pays more than buying singles,
and never more than a mix they could have worked out themselves (greedy "largest bundle
first" is not always cheapest: with 5 for £4 and 3 for £2.20, 6 tickets are 3 + 3 = £4.40,
not 5 + 1 = £4.99). A bundle that is no cheaper per ticket than singles is simply never
chosen. Between mixes of equal price the one with the larger bundles wins, so the breakdown
the customer reads is stable.

Pure arithmetic on Decimal pounds and integer pence: no database, no float.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

PENNY = Decimal("0.01")


def to_pence(amount: Decimal) -> int:
    return int((Decimal(amount).quantize(PENNY, rounding=ROUND_HALF_UP) * 100).to_integral_value())


def to_pounds(pence: int) -> Decimal:
    return (Decimal(pence) / 100).quantize(PENNY)


@dataclass(frozen=True)
class Offer:
    """A bundle as the pricing sees it: `quantity` tickets for `price`."""

    quantity: int
    price: Decimal

    @property
    def label(self) -> str:
        return f"{self.quantity} for £{self.price}"


@dataclass(frozen=True)
class LinePrice:
    """How `quantity` tickets at `unit_price` each are charged: `bundles` ((offer, times), largest
    first) and `singles` at the single price."""

    quantity: int
    unit_price: Decimal
    bundles: tuple[tuple[Offer, int], ...] = ()
    singles: int = 0

    @property
    def subtotal(self) -> Decimal:
        """At the single price."""
        return self.unit_price * self.quantity

    @property
    def total(self) -> Decimal:
        return sum((o.price * n for o, n in self.bundles), Decimal(0)) + self.unit_price * (
            self.singles
        )

    @property
    def saving(self) -> Decimal:
        return self.subtotal - self.total

    @property
    def breakdown(self) -> str:
        """'2 × 5 for £4.00 + 3 × £0.99' (or '' without bundles)."""
        if not self.bundles:
            return ""
        parts = [o.label if n == 1 else f"{n} × {o.label}" for o, n in self.bundles]
        if self.singles:
            parts.append(f"{self.singles} × £{self.unit_price}")
        return " + ".join(parts)

    def as_json(self) -> list[dict]:
        """For OrderLine.bundles: what a receipt or a refund needs to know was bought."""
        return [
            {"quantity": o.quantity, "price": str(o.price), "times": n} for o, n in self.bundles
        ]


def offers_of(bundles: Iterable) -> list[Offer]:
    """Offers from Bundle rows (or anything with `quantity` and `price`)."""
    return [Offer(int(b.quantity), Decimal(b.price)) for b in bundles]


def best_price(quantity: int, unit_price: Decimal, offers: Iterable[Offer]) -> LinePrice:
    """The cheapest way to buy exactly `quantity` tickets (see the module docstring)."""
    unit = to_pence(unit_price)
    useful = sorted(
        (o for o in offers if 1 < o.quantity <= quantity and to_pence(o.price) < unit * o.quantity),
        key=lambda o: o.quantity,
        reverse=True,
    )
    if quantity < 2 or not useful:
        return LinePrice(quantity, unit_price, (), max(quantity, 0))
    # The best rate's bundle: an optimal mix needs fewer than its size of other items (any that
    # many contain a subset whose tickets it could replace at no more cost), so beyond
    # `horizon` tickets the rest is that bundle, repeated; the programme covers the horizon.
    best = min(useful, key=lambda o: (Decimal(to_pence(o.price)) / o.quantity, -o.quantity))
    horizon = best.quantity * max(o.quantity for o in useful)
    repeat = 0
    if quantity > horizon:
        repeat = -(-(quantity - horizon) // best.quantity)
    rest = quantity - repeat * best.quantity
    cost = [0] + [0] * rest
    choice: list[Offer | None] = [None] * (rest + 1)
    for n in range(1, rest + 1):
        cost[n], choice[n] = cost[n - 1] + unit, None
        for offer in useful:  # largest first: on a tie the larger bundle stays
            if offer.quantity <= n:
                candidate = cost[n - offer.quantity] + to_pence(offer.price)
                if candidate < cost[n]:
                    cost[n], choice[n] = candidate, offer
    counts: dict[Offer, int] = {best: repeat} if repeat else {}
    singles, n = 0, rest
    while n > 0:
        offer = choice[n]
        if offer is None:
            singles, n = singles + 1, n - 1
        else:
            counts[offer] = counts.get(offer, 0) + 1
            n -= offer.quantity
    bundles = tuple(sorted(counts.items(), key=lambda item: item[0].quantity, reverse=True))
    return LinePrice(quantity, unit_price, bundles, singles)
