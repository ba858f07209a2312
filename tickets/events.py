"""The moments customers hear about (one call site each), for the notifications app.

Each function is called inside the transaction that makes the change, so a notification outbox
row written here commits or rolls back with it. They do nothing yet: the notifications app
will route them through `notifications.services.notify(...)`.
"""


def order_paid(order) -> None:
    """Payment confirmed and tickets issued: "Your tickets" with the numbers."""


def late_payment_refunded(order, refund, reason: str) -> None:
    """Paid after the reservation lapsed and the numbers could not be held again: the payment
    is being refunded automatically. `reason` is written for the customer."""


def refund_created(refund) -> None:
    """Staff (or the provider's dashboard) refunded tickets: which ones and how much."""
