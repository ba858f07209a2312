"""Numbers are picked without the competition's lock, so another buyer may take one first.

The partial unique index on live numbers decides; the sale picks lucky dips again and says
"number taken" for a chosen number. On SQLite the pick is a query and the insert a statement
in a savepoint; on PostgreSQL one statement picks and writes (INSERT ... ON CONFLICT DO
NOTHING: tickets.services.rules._insert_free). The races are staged here by making the pick
offer a number someone already holds, and on PostgreSQL also with a second buyer's open
transaction; many buyers at once run in test_concurrency and test_checkout_concurrency."""

import threading
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone

from competitions.models import Competition
from tests.factories import TicketFactory, UserFactory, active_competition
from tickets.exceptions import Busy, NumberTaken
from tickets.models import Order, Ticket
from tickets.services import rules

from .helpers import reserve

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_sqlite():
    if connection.vendor == "postgresql":
        pytest.skip("the SQLite path (PostgreSQL picks and writes in one statement: below)")


def test_a_lucky_dip_that_lost_a_number_to_another_buyer_picks_again(monkeypatch, on_sqlite):
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
    # Both databases: the check before the insert is the same query.
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


def test_a_lucky_dip_that_keeps_losing_says_busy_and_writes_nothing(monkeypatch, on_sqlite):
    competition = active_competition(max_tickets=100)
    TicketFactory(competition=competition, number=7)
    monkeypatch.setattr(rules, "allocate", lambda *, competition, line: [7])

    with pytest.raises(Busy):
        reserve(UserFactory(), competition, quantity=1)

    assert not Order.objects.exists()
    assert Competition.objects.get(pk=competition.pk).tickets_reserved == 0


# --- PostgreSQL: one statement picks and writes ----------------------------------------------


def offering(monkeypatch, *first_offers):
    """Make the lucky dip offer `first_offers` (one list per round), then what it would."""
    real = rules._lucky_candidates
    offers = []

    def candidates(line, *, want, exclude, again):
        offers.append(sorted(exclude))
        if len(offers) <= len(first_offers):
            return list(first_offers[len(offers) - 1])
        return real(line, want=want, exclude=exclude, again=again)

    monkeypatch.setattr(rules, "_lucky_candidates", candidates)
    return offers


def test_a_lucky_dip_offered_only_taken_numbers_picks_again(monkeypatch, on_postgres):
    competition = active_competition(max_tickets=100)
    TicketFactory(competition=competition, number=7)
    offers = offering(monkeypatch, [7])

    order = reserve(UserFactory(), competition, quantity=2)

    assert len(offers) == 2
    numbers = sorted(order.tickets.values_list("number", flat=True))
    assert len(numbers) == 2 and 7 not in numbers
    assert Competition.objects.get(pk=competition.pk).tickets_reserved == 2


def test_a_round_that_came_up_short_is_undone_and_picked_again(monkeypatch, on_postgres):
    """All or nothing, as on SQLite: a sale never holds numbers while waiting for another
    buyer's (two buyers could deadlock)."""
    competition = active_competition(max_tickets=100)
    TicketFactory(competition=competition, number=7)
    offers = offering(monkeypatch, [7, 8], [8, 9])

    order = reserve(UserFactory(), competition, quantity=2)

    assert len(offers) == 2
    assert sorted(order.tickets.values_list("number", flat=True)) == [8, 9]
    live = Ticket.objects.filter(competition=competition, status__in=Ticket.HOLDING_STATUSES)
    assert sorted(live.values_list("number", flat=True)) == [7, 8, 9]


def test_chosen_and_lucky_numbers_in_one_round(monkeypatch, on_postgres):
    competition = active_competition(max_tickets=100)
    TicketFactory(competition=competition, number=7)
    offering(monkeypatch, [7, 12, 30])

    order = reserve(UserFactory(), competition, quantity=2, numbers=[5])

    assert sorted(order.tickets.values_list("number", flat=True)) == [5, 12, 30]


def test_a_lucky_dip_offered_only_taken_numbers_every_time_says_busy(monkeypatch, on_postgres):
    competition = active_competition(max_tickets=100)
    TicketFactory(competition=competition, number=7)
    offers = offering(monkeypatch, *[[7]] * rules.PICKS)

    with pytest.raises(Busy):
        reserve(UserFactory(), competition, quantity=1)

    assert len(offers) == rules.PICKS
    assert not Order.objects.exists()
    assert Competition.objects.get(pk=competition.pk).tickets_reserved == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("other_commits", [True, False], ids=["commits", "rolls-back"])
def test_a_number_another_buyer_is_writing_waits_for_them(monkeypatch, on_postgres, other_commits):
    """Another buyer's transaction has written number 7 and not committed: the insert waits
    for it, then skips 7 if they commit (and picks again) or takes it if they roll back."""
    competition = active_competition(max_tickets=100)
    other = UserFactory()
    offering(monkeypatch, [7])
    written, finish = threading.Event(), threading.Event()

    def other_buyer():
        try:
            with transaction.atomic():
                TicketFactory(
                    competition=competition, user=other, number=7, status=Ticket.Status.RESERVED
                )
                written.set()
                finish.wait(10)
                if not other_commits:
                    transaction.set_rollback(True)
        finally:
            connection.close()

    thread = threading.Thread(target=other_buyer)
    thread.start()
    written.wait(10)
    threading.Timer(0.5, finish.set).start()  # after our insert has started waiting
    started = time.monotonic()
    try:
        order = reserve(UserFactory(), competition, quantity=1, now=timezone.now())
    finally:
        finish.set()
        thread.join(10)

    assert time.monotonic() - started >= 0.4  # it waited for the other buyer
    (number,) = order.tickets.values_list("number", flat=True)
    assert (number != 7) if other_commits else (number == 7)
    live = Ticket.objects.filter(competition=competition, status__in=Ticket.HOLDING_STATUSES)
    assert live.count() == (2 if other_commits else 1)
