"""The moments customers and operators hear about from selling, one call site each.

Each function is called inside the transaction that makes the change, so the outbox rows
`notifications.events` writes commit or roll back with it."""

from django.db.models import F

from competitions.models import Competition
from notifications import events as notify
from notifications.services import notification_enqueue_many


def order_reserved(order, *, lines=None) -> None:
    """Numbers are held and the customer is on their way to pay. `lines`: the order's lines
    with their competitions and answers, if the caller has them."""
    notify.checkout_started(order, lines=lines)


def order_paid_messages(order, *, lines=None) -> list:
    """What `order_paid` will tell the customer, built ahead: a sale builds them before taking
    the competitions' locks, from a pending order (whose numbers are the ones it will issue)
    and its lines with their competitions and answers."""
    return notify.order_placed_messages(order, lines=lines)


def order_paid(order, *, messages=None, competitions=None) -> None:
    """Payment confirmed and tickets issued: "Your tickets" with the numbers; operators hear
    about any competition this sale sold out. `messages`: built ahead by order_paid_messages;
    `competitions`: the order's competitions as locked, with this sale's counts."""
    if messages is None:
        messages = order_paid_messages(order)
    notification_enqueue_many(messages)
    if competitions is None:
        competition_ids = order.lines.values_list("competition_id", flat=True)
        competitions = Competition.objects.filter(
            pk__in=competition_ids, tickets_sold__gte=F("max_tickets")
        )
    for competition in competitions:
        if competition.tickets_sold >= competition.max_tickets:
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
