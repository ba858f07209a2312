"""The competition list a page at a time, and the home page's bounded selection."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import active_competition

pytestmark = pytest.mark.django_db

CARD = '<article class="card'


def shop(count: int, *, start_in=timedelta(0), featured_last=False) -> list:
    """`count` competitions closing an hour apart, titled in the order the list shows them."""
    now = timezone.now()
    return [
        active_competition(
            title=f"Prize {i:02d}",
            starts_at=now + start_in - timedelta(minutes=1),
            ends_at=now + start_in + timedelta(days=1, hours=i),
            is_featured=featured_last and i == count,
        )
        for i in range(1, count + 1)
    ]


def html(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def on_sale():
    return shop(25)


def test_the_first_page_shows_24(client, on_sale):
    page = html(client.get("/competitions/"))

    assert page.count(CARD) == 24
    assert "Prize 24" in page and "Prize 25" not in page
    assert 'href="?status=active&amp;page=2" rel="next"' in page
    assert 'rel="prev"' not in page
    assert 'aria-current="page"><span class="visually-hidden">Page </span>1</a>' in page


def test_page_two_shows_the_25th(client, on_sale):
    page = html(client.get("/competitions/", {"page": 2}))

    assert page.count(CARD) == 1
    assert "Prize 25" in page and "Prize 24" not in page
    assert 'href="?status=active&amp;page=1" rel="prev"' in page
    assert 'aria-current="page"><span class="visually-hidden">Page </span>2</a>' in page
    assert "Page 2 of 2" in page
    assert "competitions – page 2 · " in page  # the title


def test_the_status_filter_is_kept_in_the_page_links(client):
    shop(25, start_in=timedelta(days=2))

    page = html(client.get("/competitions/", {"status": "upcoming"}))
    second = html(client.get("/competitions/", {"status": "upcoming", "page": 2}))

    assert 'href="?status=upcoming&amp;page=2"' in page
    assert "status=active&amp;page" not in page
    assert "Prize 25" in second


@pytest.mark.parametrize(("asked", "shown"), [("99", 2), ("0", 2), ("-1", 2), ("two", 1), ("", 1)])
def test_a_page_out_of_range_shows_the_nearest_real_one(client, on_sale, asked, shown):
    page = html(client.get("/competitions/", {"page": asked}))

    assert f"Page {shown} of 2" in page


def test_one_page_needs_no_page_links(client):
    shop(2)

    page = html(client.get("/competitions/"))

    assert 'class="pager"' not in page


def test_the_home_page_shows_a_bounded_selection(client):
    shop(25, featured_last=True)

    page = html(client.get("/"))

    assert page.count(CARD) == 12  # the live grid: the first twelve to close
    assert "Prize 12" in page and "Prize 13" not in page.split('id="live-title"')[1]
    assert 'id="hero-title" class="hero-title">Prize 25<' in page  # featured, however late
    assert "See all live competitions" in page


def test_the_home_page_with_few_competitions_needs_no_see_all(client):
    shop(3)

    page = html(client.get("/"))

    assert page.count(CARD) == 3
    assert "See all live competitions" not in page
