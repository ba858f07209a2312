"""What winners does when draws sends its hook (`draws.signals.prizes_won`). Connected in
`WinnersConfig.ready()`."""

from .services import winners_record


def record_winners(sender, *, competition, draw, picks, **kwargs) -> list:
    return winners_record(competition=competition, draw=draw, picks=picks)
