"""The moments customers and operators hear about from selling, one call site each.

Each function is called inside the transaction that makes the change, so the outbox rows
`notifications.events` writes commit or roll back with it."""

from django.db.models import F

from competitions.models import Competition
from notifications import events as notify


def order_reserved(order) -> None:
    """Numbers are held and the customer is on their way to pay."""
    notify.checkout_started(order)


def order_paid(order) -> None:
    """Payment confirmed and tickets issued: "Your tickets" with the numbers; operators hear
    about any competition this sale sold out."""
    notify.order_placed(order)
    competition_ids = order.lines.values_list("competition_id", flat=True)
    for competition in Competition.objects.filter(
        pk__in=competition_ids, tickets_sold__gte=F("max_tickets")
    ):
        notify.sold_out(competition)


def late_payment_refunded(order, refund, reason: str) -> None:
    """Paid after the reservation lapsed and the numbers could not be held again: the payment
    is being refunded automatically. `reason` is written for the customer."""
    notify.order_refunded(
        order,
        amount=refund.amount,
        reason=f"Your payment arrived after your reservation ended and the tickets could not be issued: {reason}",
        refund=refund,
    )


def refund_created(refund) -> None:
    """Staff (or the provider's dashboard) refunded tickets: which ones and how much."""
    notify.order_refunded(
        refund.order, amount=refund.amount, reason=refund.get_reason_display(), refund=refund
    )


def credit_card_refunded(order, refund, reason: str) -> None:
    """Paid by a credit card the code of practice does not allow for this order (instant-win
    competition, or over the monthly credit-card cap): refunded automatically, no tickets.
    `reason` is written for the customer."""
    notify.order_refunded(
        order,
        amount=refund.amount,
        reason=f"We can’t accept this payment by credit card, so no tickets were issued and "
        f"your payment is being refunded in full. {reason}",
        refund=refund,
    )
