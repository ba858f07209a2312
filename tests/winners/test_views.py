"""The Champions page: published winners only, newest first, a page at a time."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from competitions.lifecycle import Status
from tests.factories import FAKE_COMMITMENT, CompetitionFactory, PrizeFactory, TicketFactory
from winners.models import Winner
from winners.views import CHAMPIONS_PER_PAGE

pytestmark = pytest.mark.django_db
URL = reverse("winners:champions")


def make_winners(count: int, *, published: bool = True, start=None) -> list[Winner]:
    """`count` winners of one drawn competition, published a minute apart (oldest first)."""
    start = start or timezone.now() - timedelta(days=1)
    competition = CompetitionFactory(
        status=Status.DRAWN, seed_commitment=FAKE_COMMITMENT, max_tickets=1000
    )
    winners = []
    for i in range(count):
        ticket = TicketFactory(competition=competition, number=i + 1)
        winners.append(
            Winner.objects.create(
                competition=competition,
                prize=PrizeFactory(competition=competition, position=i + 1, title=f"Prize {i}"),
                ticket=ticket,
                user=ticket.user,
                display_name=f"Champion{i:03d} K.",
                is_published=published,
                published_at=start + timedelta(minutes=i) if published else None,
            )
        )
    return winners


def test_shows_published_winners_newest_first(client):
    older, newer = make_winners(2)
    make_winners(1, published=False)

    page = client.get(URL).content.decode()

    assert page.index(newer.display_name) < page.index(older.display_name)
    assert "Champion000 K." in page and f"#{newer.ticket.number}" in page
    assert page.count('class="winner-card"') == 2  # the unpublished one stays private


def test_pages_of_twelve(client):
    make_winners(CHAMPIONS_PER_PAGE + 3)

    first = client.get(URL).content.decode()
    second = client.get(URL, {"page": 2}).content.decode()

    assert first.count('class="winner-card"') == CHAMPIONS_PER_PAGE
    assert second.count('class="winner-card"') == 3
    assert "Page 1 of 2" in first and 'rel="next"' in first
    assert "Champion000 K." in second  # the oldest is last


def test_a_silly_page_number_shows_a_real_page(client):
    make_winners(2)

    response = client.get(URL, {"page": "999"})

    assert response.status_code == 200
    assert response.content.decode().count('class="winner-card"') == 2


def test_empty_page_explains(client):
    assert "Our first champions are on their way" in client.get(URL).content.decode()
