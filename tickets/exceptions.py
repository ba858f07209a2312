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


class AnswerRequired(TicketError):
    pass


class NotEligible(TicketError):
    pass
