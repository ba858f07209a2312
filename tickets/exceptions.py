class TicketError(Exception):
    """A purchase the rules refuse. The message is written for the customer."""


class SalesClosed(TicketError):
    pass


class SoldOut(TicketError):
    pass


class NumberTaken(TicketError):
    def __init__(self, numbers):
        self.numbers = sorted(numbers)
        shown = ", ".join(str(n) for n in self.numbers)
        super().__init__(f"Sorry, these numbers are already taken: {shown}. Please choose others.")


class LimitReached(TicketError):
    pass


class SpendLimitReached(TicketError):
    """The order would take the customer over their monthly spending limit or the operator's
    cap (responsible_play.limits)."""


class AnswerRequired(TicketError):
    pass


class NotEligible(TicketError):
    pass


class Busy(TicketError):
    """The competition is locked by other buyers for longer than we are willing to wait."""

    def __init__(self, message="Lots of people are buying right now. Please try again."):
        super().__init__(message)


class CartEmpty(TicketError):
    pass


class RefundRefused(TicketError):
    pass


class PaymentFailed(TicketError):
    """The payment provider could not start or finish a payment."""


class ProviderUnavailable(PaymentFailed):
    """The payment provider could not be asked (network, outage, rate limit): the same request
    may well work later, so a webhook answers non-2xx and the provider delivers it again."""


class Throttled(TicketError):
    """Too many basket changes or checkouts in a short time (tickets.throttle)."""

    def __init__(self, message: str, *, retry_after: int):
        self.retry_after = retry_after
        super().__init__(message)


class CodeRefused(TicketError):
    """A discount code that does not apply: unknown, expired, used up, not for this basket."""
