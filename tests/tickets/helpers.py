"""Shared helpers for the ticket tests."""

from tests.factories import correct_answer
from tickets.services import LineRequest, order_reserve


def line(competition, *, quantity=0, numbers=(), answer=None):
    return LineRequest(
        competition_id=competition.pk,
        answer_id=(answer or correct_answer(competition)).pk,
        quantity=quantity,
        numbers=tuple(numbers),
    )


def reserve(user, competition, *, now=None, **kw):
    return order_reserve(user=user, lines=[line(competition, **kw)], now=now)
