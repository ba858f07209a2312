class CompetitionError(Exception):
    """A competition change that staff asked for but the rules refuse. The message says why."""


class ActivationRefused(CompetitionError):
    pass
