class DrawError(Exception):
    """A draw the rules refuse. The message says why."""


class DrawNotDue(DrawError):
    pass


class AlreadyDrawn(DrawError):
    pass
