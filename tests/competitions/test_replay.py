"""“Watch the draw”: a replay of the recorded draw, built from its published data only."""

from datetime import timedelta

import pytest
from django.utils import timezone

from draws.models import Draw
from draws.replay import REEL_AFTER, REEL_BEFORE, draw_replay, latest_draw
from draws.services import draw_perform
from tests.factories import TicketFactory, active_competition
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def ended_with_tickets(numbers, *, prizes=1, **kw):
    now = timezone.now()
    competition = active_competition(
        now=now - timedelta(days=2),
        starts_at=now - timedelta(days=3),
        ends_at=now - timedelta(hours=1),
        max_tickets=max(numbers) + 10,
        max_tickets_per_user=max(numbers) + 10,
        prizes=prizes,
        **kw,
    )
    for number in numbers:
        TicketFactory(competition=competition, number=number)
    return competition


def drawn_with_tickets(numbers, **kw):
    competition = ended_with_tickets(numbers, **kw)
    draw_perform(competition=competition, mode=Draw.Mode.ADMIN)
    competition.refresh_from_db()
    return competition


def test_reel_is_the_real_ledger_around_the_winner_and_lands_on_it():
    competition = drawn_with_tickets(list(range(1, 201)))
    TicketFactory(competition=competition, number=205, status=Ticket.Status.INVALID)
    draw = latest_draw(competition)

    replay = draw_replay(draw)

    assert replay["entryCount"] == 200 == draw.entry_count
    (prize,) = replay["prizes"]
    assert prize["winningIndex"] == draw.winning_index
    assert prize["winningNumber"] == draw.winning_ticket.number
    reel = prize["reel"]
    indexes = [entry["index"] for entry in reel]
    assert indexes == list(range(indexes[0], indexes[-1] + 1))  # a contiguous strip
    assert indexes[0] == max(0, draw.winning_index - REEL_BEFORE)
    assert indexes[-1] == min(199, draw.winning_index + REEL_AFTER)
    # Ledger index i holds the (i+1)-th smallest valid number: here simply i + 1.
    assert all(entry["number"] == entry["index"] + 1 for entry in reel)
    assert 205 not in [entry["number"] for entry in reel]


def test_replay_is_the_same_every_time():
    competition = drawn_with_tickets([3, 8, 13, 21, 34, 55])
    draw = latest_draw(competition)

    assert draw_replay(draw) == draw_replay(draw)


def test_each_draw_prize_gets_its_own_reel_in_prize_order():
    competition = drawn_with_tickets(list(range(1, 51)), prizes=2)

    replay = draw_replay(latest_draw(competition))

    assert [p["position"] for p in replay["prizes"]] == [1, 2]
    assert len({p["winningNumber"] for p in replay["prizes"]}) == 2


def test_nothing_to_replay_before_a_draw():
    assert draw_replay(None) is None


def test_competition_page_offers_the_replay_with_a_text_result(client):
    competition = drawn_with_tickets(list(range(1, 31)))
    draw = latest_draw(competition)

    page = client.get(competition.get_absolute_url()).content.decode()

    assert "Watch the draw" in page
    assert "js/draw-replay.js" in page
    assert f'data-winning-number="{draw.winning_ticket.number}"' in page
    assert f'data-winning-index="{draw.winning_index}"' in page
    assert f'<strong class="winning-number">#{draw.winning_ticket.number}</strong>' in page
    assert 'role="status"' in page  # the result is announced as text, not only animated
    assert f"{competition.get_absolute_url()}draw/" in page


def test_no_replay_is_offered_while_the_competition_is_only_ended(client):
    competition = ended_with_tickets([1, 2, 3])

    page = client.get(competition.get_absolute_url()).content.decode()

    assert "Watch the draw" not in page
    assert "draw-replay.js" not in page
