class WinnerError(Exception):
    """A winner change the rules refuse. The message says why."""


class NotApproved(WinnerError):
    pass
