"""Everything the code of practice asks a competition page to tell an entrant, point by point:
how the winner is chosen, the free postal route, the odds and entries so far, the closing
rules and the cash alternative."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.factories import TicketFactory, active_competition

pytestmark = pytest.mark.django_db


def detail(client, competition) -> str:
    response = client.get(competition.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def text(html: str) -> str:
    """The page as a reader sees it: tags dropped, whitespace squeezed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_how_the_winner_is_chosen_and_where_to_check_it(client):
    competition = active_competition(slug="win-a-tesla")
    html = detail(client, competition)
    assert competition.seed_commitment in html
    assert "Draw commitment (SHA-256)" in html
    # The verification page is linked before the draw too, not only after it.
    assert 'href="/competitions/win-a-tesla/draw/"' in html
    assert "See the draw page" in html
    assert "reveals the seed" in text(html)


def test_free_postal_entry_sits_beside_paid_entry_with_address_and_rules(client, settings):
    settings.FAIRDRAW_POSTAL_ENTRY_ADDRESS = "Fairdraw Free Entry, PO Box 99, York YO1 1AA"
    competition = active_competition()
    html = detail(client, competition)
    buy_box = html[html.index('class="buybox"') : html.index('class="assurances"')]
    assert "Add to basket" in buy_box
    assert "Or enter free by post" in buy_box
    assert "PO Box 99, York YO1 1AA" in buy_box
    assert "same chance of winning" in buy_box
    rules = text(html[html.index('id="free-entry"') :])
    assert "One entry per postcard" in rules
    assert "exactly the same chance of winning as paid entries" in rules


def test_maximum_odds_and_entries_so_far(client):
    competition = active_competition(max_tickets=5000, max_tickets_per_user=50)
    for number in (1, 2, 3):
        TicketFactory(competition=competition, number=number)
    competition.tickets_sold = 3
    competition.save(update_fields=["tickets_sold"])
    page = text(detail(client, competition))
    assert "Max odds 1 in 5,000" in page
    assert "Entries so far 3" in page
    assert "3 of 5,000 sold" in page


def test_closing_rules_say_what_happens_if_it_does_not_sell_out(client):
    ends = timezone.now() + timedelta(days=6)
    competition = active_competition(ends_at=ends, draw_at=ends)
    page = text(detail(client, competition))
    assert (
        "Entries close at the closing time above (UK time), or earlier as soon as every ticket is sold."
        in page
    )
    assert "If not every ticket is sold, the draw still goes ahead at the draw time" in page
    assert f"Closes {timezone.localtime(ends):%-d %b %Y, %H:%M}" in page

    with_minimum = active_competition(max_tickets=100, min_tickets=40)
    page = text(detail(client, with_minimum))
    assert "It needs at least 40 entries" in page
    assert "refund every ticket in full" in page
    assert "the draw still goes ahead" not in page


def test_cash_alternative_is_stated_either_way(client):
    with_cash = active_competition(cash_alternative=Decimal("42000.00"), prizes=2)
    with_cash.prizes.filter(position=2).update(cash_alternative=Decimal("500.00"))
    page = text(detail(client, with_cash))
    assert "Cash alternative £42,000.00" in page
    assert "The winner may take £42,000.00 in cash instead of the prize." in page
    assert "or £500.00 cash" in page

    without = active_competition(cash_alternative=None)
    page = text(detail(client, without))
    assert "Cash alternative None" in page
    assert "This prize has no cash alternative." in page
