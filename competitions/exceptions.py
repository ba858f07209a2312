class CompetitionError(Exception):
    """A competition change that staff asked for but the rules refuse. The message says why."""


class ActivationRefused(CompetitionError):
    pass


class CompetitionLocked(CompetitionError):
    """A change to what was sold (price, quantity, dates, question, prizes) of a competition
    that is final, or to the question and answers once entries were judged against them."""
