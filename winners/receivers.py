"""What winners does when draws sends its hook (`draws.signals.prizes_won`). Connected in
`WinnersConfig.ready()`."""

from .selectors import instant_prizes_delivered
from .services import instant_winners_record, instant_wins_void, winners_record


def record_winners(sender, *, competition, draw, picks, **kwargs) -> list:
    return winners_record(competition=competition, draw=draw, picks=picks)


def record_instant_winners(sender, *, wins, now=None, **kwargs) -> list:
    return instant_winners_record(wins=wins, now=now)


def void_instant_winners(sender, *, ticket_ids, reason, by=None, now=None, **kwargs) -> list:
    return instant_wins_void(ticket_ids=ticket_ids, reason=reason, by=by, now=now)


def delivered_instant_prizes(sender, *, instant_win_ids, **kwargs) -> dict:
    return instant_prizes_delivered(instant_win_ids=instant_win_ids)
