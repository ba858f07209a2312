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


def payment_refused(order, refund, problem: str) -> None:
    """A payment that could not become tickets is being refunded automatically: tell the
    customer why. `problem` is written for them; the refund's reason picks the opening."""
    Reason = type(refund).Reason
    opening = {
        Reason.LATE_PAYMENT: "Your payment arrived after your reservation ended and the tickets "
        "could not be issued: ",
        Reason.PAYMENT_MISMATCH: "Your payment did not match the order, so no tickets were "
        "issued and it is being refunded in full.",
        Reason.CREDIT_CARD: "We can’t accept this payment by credit card, so no tickets were "
        "issued and your payment is being refunded in full. ",
    }.get(refund.reason, "No tickets were issued and your payment is being refunded in full: ")
    reason = opening if refund.reason == Reason.PAYMENT_MISMATCH else opening + problem
    notify.order_refunded(order, amount=refund.amount, reason=reason, refund=refund)


def refund_created(refund) -> None:
    """Staff (or the provider's dashboard) refunded tickets: which ones and how much."""
    notify.order_refunded(
        refund.order, amount=refund.amount, reason=refund.get_reason_display(), refund=refund
    )
