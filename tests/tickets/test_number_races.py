"""Numbers are picked without the competition's lock, so another buyer may take one first.

The partial unique index on live numbers decides; the sale picks lucky dips again (in a
savepoint, keeping the rest of the checkout) and says "number taken" for a chosen number. The
races are staged here by making the pick return a number someone already holds; the real
thing, with threads, runs on PostgreSQL in test_concurrency and test_checkout_concurrency."""

import pytest

from competitions.models import Competition
from tests.factories import TicketFactory, UserFactory, active_competition
from tickets.exceptions import Busy, NumberTaken
from tickets.models import Order, Ticket
from tickets.services import rules

from .helpers import reserve

pytestmark = pytest.mark.django_db


def test_a_lucky_dip_that_lost_a_number_to_another_buyer_picks_again(monkeypatch):
    competition = active_competition(max_tickets=100)
    TicketFactory(competition=competition, number=7)  # the other buyer's, just committed
    real_allocate = rules.allocate
    picks = []

    def allocate(*, competition, line):
        picks.append(real_allocate(competition=competition, line=line))
        return [7] if len(picks) == 1 else picks[-1]

    monkeypatch.setattr(rules, "allocate", allocate)

    order = reserve(UserFactory(), competition, quantity=1)

    assert len(picks) == 2
    (ticket,) = order.tickets.all()
    assert ticket.number == picks[1][0] != 7
    competition.refresh_from_db()
    assert competition.tickets_reserved == 1


def test_a_chosen_number_taken_between_the_check_and_the_insert_is_number_taken(monkeypatch):
    competition = active_competition(max_tickets=100)
    TicketFactory(competition=competition, number=13)
    checked = []
    real_taken_among = rules.allocation.taken_among

    def taken_among(competition_id, numbers):
        checked.append(list(numbers))
        # The check before the insert still saw 13 free; the buyer committed right after.
        return set() if len(checked) == 1 else real_taken_among(competition_id, numbers)

    monkeypatch.setattr(rules.allocation, "taken_among", taken_among)

    with pytest.raises(NumberTaken) as refused:
        reserve(UserFactory(), competition, numbers=[13])

    assert "13" in str(refused.value)
    assert not Order.objects.exists()
    assert Ticket.objects.filter(competition=competition).count() == 1
    assert Competition.objects.get(pk=competition.pk).tickets_reserved == 0


def test_a_lucky_dip_that_keeps_losing_says_busy_and_writes_nothing(monkeypatch):
    competition = active_competition(max_tickets=100)
    TicketFactory(competition=competition, number=7)
    monkeypatch.setattr(rules, "allocate", lambda *, competition, line: [7])

    with pytest.raises(Busy):
        reserve(UserFactory(), competition, quantity=1)

    assert not Order.objects.exists()
    assert Competition.objects.get(pk=competition.pk).tickets_reserved == 0
