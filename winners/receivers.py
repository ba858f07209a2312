"""What winners does when draws sends its hook (`draws.signals.prizes_won`). Connected in
`WinnersConfig.ready()`."""

from .services import instant_winners_record, winners_record


def record_winners(sender, *, competition, draw, picks, **kwargs) -> list:
    return winners_record(competition=competition, draw=draw, picks=picks)


def record_instant_winners(sender, *, wins, now=None, **kwargs) -> list:
    return instant_winners_record(wins=wins, now=now)
