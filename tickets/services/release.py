"""Giving held numbers back: a pending order's reservation lapses or its checkout is cancelled.

`order_release` claims the order with a compare-and-set (pending -> expired/cancelled), so a
payment racing the release finds the order changed and takes the late-payment path
(tickets.services.fulfilment); then it deletes the reserved tickets and, last, gives their
numbers back to the competitions' counters (ascending ids): the order before the competitions,
as a payment takes them. Once the release commits, a task closes the provider's checkout page
(`order_checkout_expire`), outside any transaction and lock: Stripe decides between a payment
and the expiry.
"""

import logging
from collections import Counter
from functools import partial

from django.db import transaction
from django.utils import timezone

from .. import locking, payments
from ..exceptions import PaymentFailed, ProviderUnavailable
from ..models import Order, OrderLine, Ticket
from .discounts import redemption_release
from .rules import RELEASED_STATES, counters_add

logger = logging.getLogger(__name__)


def order_release(
    *,
    order_id: int,
    reason: str = Order.Status.EXPIRED,
    only_if_lapsed: bool = True,
    expire_checkout: bool = True,
    now=None,
) -> bool:
    """Give a pending order's numbers back. Returns False if it was no longer pending (paid,
    already released) or, with `only_if_lapsed`, not yet past `reserved_until`.

    Once the release commits, a task closes the order's Stripe checkout
    (`order_checkout_expire`) so the customer cannot pay for numbers they no longer hold;
    `expire_checkout=False` when Stripe itself said the checkout expired."""
    now = now or timezone.now()
    if reason not in (Order.Status.EXPIRED, Order.Status.CANCELLED):
        raise ValueError(f"Cannot release an order as {reason!r}.")
    with transaction.atomic():
        given_back = release_claim(
            order_id=order_id,
            reason=reason,
            only_if_lapsed=only_if_lapsed,
            expire_checkout=expire_checkout,
            now=now,
        )
        if given_back is None:
            return False
        # Its discount code's use, if any, before the competitions' rows (services.discounts).
        redemption_release(order_id=order_id, now=now)
        with locking.waiting_briefly():
            for competition_id in sorted(given_back):
                counters_add(competition_id, reserved=-given_back[competition_id], now=now)
        return True


def release_claim(
    *, order_id: int, reason: str, only_if_lapsed: bool, expire_checkout: bool, now
) -> Counter | None:
    """Claim a pending order as released and delete its reserved tickets; returns how many
    numbers it gave back per competition, for the caller to take off the counters last (None:
    the order was no longer pending, or with `only_if_lapsed` not yet lapsed). Used by
    `order_release` and by a new checkout giving back the customer's previous one."""
    claim = Order.objects.filter(pk=order_id, status=Order.Status.PENDING)
    if only_if_lapsed:
        claim = claim.filter(reserved_until__lte=now)
    if not claim.update(status=reason, updated_at=now):
        return None
    given_back = reservations_delete(order_id=order_id)
    if expire_checkout:
        session_id = Order.objects.values_list("stripe_checkout_session_id", flat=True).get(
            pk=order_id
        )
        if payments.is_stripe_session(session_id):
            # robust: a broker hiccup must not fail the release sweep; the session then
            # lapses by itself (Stripe's expires_at) and a payment takes the late path.
            transaction.on_commit(partial(queue_checkout_expiry, order_id), robust=True)
    return given_back


def queue_checkout_expiry(order_id: int) -> None:
    """Queue the task that closes the order's checkout (run after the release commits)."""
    # Imported here: tickets.tasks imports the services.
    from ..tasks import expire_checkout

    expire_checkout.delay(order_id)


def order_checkout_expire(*, order_id: int) -> str:
    """Close a released order's Stripe checkout, so it can no longer be paid. Returns what
    happened. The task (tickets.tasks.expire_checkout) runs it after the release commits, never
    inside that transaction; it is safe to run any number of times.

    Nothing here changes our data, so nothing is locked: Stripe decides between a payment and
    the expiry. If the customer paid first, the session is complete and its webhook takes the
    late-payment path (`order_fulfil`: re-reserved or refunded there, not here). Raises
    ProviderUnavailable when trying again later may work; any other failure is logged (the
    session still lapses at its own `expires_at`)."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        return "no such order"
    if order.status not in RELEASED_STATES:
        return f"nothing to expire: the order is {order.status}"
    session_id = order.stripe_checkout_session_id
    if not payments.is_stripe_session(session_id):
        return "nothing to expire: no Stripe checkout"
    gateway = payments.get_gateway()
    if not isinstance(gateway, payments.StripeGateway):
        logger.warning("Checkout %s of %s not expired: Stripe is not configured", session_id, order)
        return "nothing to expire: Stripe is not configured"
    try:
        status = gateway.expire_checkout(session_id)
    except ProviderUnavailable:
        raise
    except PaymentFailed as exc:
        logger.error("Checkout %s of %s could not be expired: %s", session_id, order, exc)
        return f"could not expire: {exc}"
    if status == "complete":
        logger.info("Checkout %s of %s was paid before it could be expired", session_id, order)
        return "already paid: the payment's webhook settles it"
    return "checkout expired"


def reservations_delete(*, order_id: int) -> Counter:
    """Delete a claimed order's reserved tickets; returns how many per competition."""
    held = Counter(
        Ticket.objects.filter(order_id=order_id, status=Ticket.Status.RESERVED).values_list(
            "competition_id", flat=True
        )
    )
    Ticket.objects.filter(order_id=order_id, status=Ticket.Status.RESERVED).delete()
    return held


def drop_reservations(*, order_id: int, now) -> None:
    """Delete a pending order's reserved tickets and give their numbers back to the counters.
    The caller holds the competitions' locks and has claimed the order."""
    held = reservations_delete(order_id=order_id)
    for competition_id in sorted(held):
        counters_add(competition_id, reserved=-held[competition_id], now=now)


def reservations_release_expired(*, competition_ids=None, now=None, limit: int = 500) -> int:
    """Release lapsed reservations (all, or those touching `competition_ids`): the periodic
    task calls it, and so does every reservation before checking the quota."""
    now = now or timezone.now()
    lapsed = Order.objects.filter(status=Order.Status.PENDING, reserved_until__lte=now)
    if competition_ids is not None:
        lapsed = lapsed.filter(
            pk__in=OrderLine.objects.filter(competition_id__in=list(competition_ids)).values(
                "order_id"
            )
        )
    order_ids = list(lapsed.order_by("reserved_until").values_list("pk", flat=True)[:limit])
    return sum(order_release(order_id=pk, now=now) for pk in order_ids)
