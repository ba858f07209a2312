"""Discount codes: staff create and edit them (audited); checkouts use them up, exactly as
often as allowed, however many customers check out at once.

A use is counted when the checkout reserves (so a code can never be promised to more orders
than it allows) and given back when that checkout lapses, is cancelled or replaced, or its
payment is refused and returned without issuing tickets. An order whose tickets were issued
keeps its use, whatever is refunded later: a refund returns what was paid for the tickets
(tickets.services.refunds), and the discount was the customer's.

Concurrency (docs/architecture.md §3):
- the total: `DiscountCode.uses` moves in one conditional statement (`uses + n <= max_uses`,
  and the code still active, in date and on the terms the order was priced with), which
  holds the code's row until commit; the database's check constraint refuses the rest;
- per customer: their redemptions are counted under the customer's row lock, which every
  checkout takes first, so two checkouts of one customer cannot both count one use left;
- one redemption per order (a unique row).
A checkout takes the code's row after writing its tickets and before the competitions' rows
(customer, order, tickets, code, competitions), so a popular code never waits on a popular
competition's row while holding it. Released uses are marked on the redemption rows first
(no shared row) and taken off the code's counter in the same place of the order.
"""

from collections import Counter
from collections.abc import Iterable

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core.audit import audit_record

from .. import locking
from ..exceptions import CodeRefused
from ..models import DiscountCode, DiscountRedemption, Order
from ..pricing import code_refusal, customer_uses

AUDITED_FIELDS = (
    "code",
    "description",
    "kind",
    "percent",
    "amount",
    "competition_id",
    "valid_from",
    "valid_until",
    "max_uses",
    "max_uses_per_customer",
    "min_spend",
    "is_active",
)


def _snapshot(code: DiscountCode) -> dict:
    return {name: getattr(code, name) for name in AUDITED_FIELDS}


@transaction.atomic
def discount_code_save(*, code: DiscountCode, by) -> DiscountCode:
    """Create or edit a code (staff), audited with what changed. The code is stored in capitals;
    the database refuses terms that make no sense (tickets.models.DiscountCode)."""
    code.code = "".join((code.code or "").split()).upper()
    if code.pk is None:
        code.save()
        audit_record(actor=by, action="discount_code.create", obj=code, after=_snapshot(code))
        return code
    stored = DiscountCode.objects.select_for_update().get(pk=code.pk)
    before, after = _snapshot(stored), _snapshot(code)
    changed = [name for name in AUDITED_FIELDS if before[name] != after[name]]
    # `uses` is the checkouts' to move: an edit never writes it.
    fields = [n.removesuffix("_id") for n in changed]
    if fields:
        code.save(update_fields=[*fields, "updated_at"])
        audit_record(
            actor=by,
            action="discount_code.edit",
            obj=code,
            before={n: before[n] for n in changed},
            after={n: after[n] for n in changed},
        )
    code.uses = stored.uses
    return code


def redemptions_release(*, order_ids: Iterable[int], now) -> Counter:
    """Mark the orders' holding redemptions released; returns how many per code, for the caller
    to take off the codes' counters (`code_uses_move`) at its place in the lock order."""
    ids = list(order_ids)
    if not ids:
        return Counter()
    holding = DiscountRedemption.objects.filter(order_id__in=ids, released_at__isnull=True)
    codes = Counter(holding.values_list("code_id", flat=True))
    if codes:
        holding.update(released_at=now)
    return codes


def code_uses_move(released: Counter) -> None:
    """Take released uses off their codes' counters (ascending ids)."""
    with locking.waiting_briefly():
        for code_id in sorted(released):
            DiscountCode.objects.filter(pk=code_id).update(uses=F("uses") - released[code_id])


def redemption_release(*, order_id: int, now=None) -> bool:
    """Give an order's code use back (idempotent). Inside the caller's transaction."""
    released = redemptions_release(order_ids=[order_id], now=now or timezone.now())
    if released:
        code_uses_move(released)
    return bool(released)


def redemption_check(*, code: DiscountCode, user, now, releasing: Iterable[int] = ()) -> None:
    """The customer may use `code` now: call it with the customer's row locked (the module
    docstring). `releasing`: their orders being given back in this transaction."""
    problem = code_refusal(code, now=now)
    if problem is None and code.max_uses_per_customer is not None:
        used = customer_uses(code, user, excluding_orders=releasing)
        if used >= code.max_uses_per_customer:
            problem = code_refusal(code, user=user, now=now) or (
                f"You have already used the code {code}."
            )
    if problem:
        raise CodeRefused(problem)


def redemption_claim(
    *, code: DiscountCode, order: Order, amount, now, released: Counter | None = None
) -> DiscountRedemption:
    """Record the order's use of `code` and count it, if the code still allows one more on the
    terms read (the module docstring); else CodeRefused, which rolls the checkout back.
    `released`: uses given back in this transaction (by the customer's previous checkout),
    moved here too so each code's row is taken once, in ascending id order."""
    released = Counter(released or {})
    redemption = DiscountRedemption.objects.create(
        code=code, order=order, user_id=order.user_id, amount=amount, created_at=now
    )
    net = 1 - released.pop(code.pk, 0)
    with locking.waiting_briefly():
        for code_id in sorted({*released, code.pk}):
            if code_id != code.pk:
                DiscountCode.objects.filter(pk=code_id).update(uses=F("uses") - released[code_id])
                continue
            claimed = DiscountCode.objects.filter(
                Q(valid_from__isnull=True) | Q(valid_from__lte=now),
                Q(valid_until__isnull=True) | Q(valid_until__gt=now),
                Q(max_uses__isnull=True) | Q(max_uses__gte=F("uses") + net),
                pk=code.pk,
                is_active=True,
                kind=code.kind,
                percent=code.percent,
                amount=code.amount,
                competition_id=code.competition_id,
                min_spend=code.min_spend,
            ).update(uses=F("uses") + net)
            if not claimed:
                raise _refused_now(code, now)
    return redemption


def _refused_now(code: DiscountCode, now) -> CodeRefused:
    fresh = DiscountCode.objects.get(pk=code.pk)
    return CodeRefused(
        code_refusal(fresh, now=now)
        or f"The code {code} has just changed. Check your basket and try again."
    )


def redemption_reclaim(*, order: Order, user, now) -> None:
    """A late payment re-issues a lapsed order: its released code use is taken again if the
    code's limits still allow it (not its dates: the customer was offered the price when they
    checked out); else CodeRefused, and the payment is refunded (tickets.services.fulfilment)."""
    redemption = (
        DiscountRedemption.objects.select_related("code")
        .filter(order=order, released_at__isnull=False)
        .first()
    )
    if redemption is None:
        return
    code = redemption.code
    limit = code.max_uses_per_customer
    if limit is not None and customer_uses(code, user) >= limit:
        raise CodeRefused(f"The code {code} has been used on another order meanwhile.")
    with locking.waiting_briefly():
        claimed = DiscountCode.objects.filter(
            Q(max_uses__isnull=True) | Q(max_uses__gt=F("uses")), pk=code.pk
        ).update(uses=F("uses") + 1)
    if not claimed:
        raise CodeRefused(f"The code {code} was used up while the payment was late.")
    DiscountRedemption.objects.filter(pk=redemption.pk).update(released_at=None)
