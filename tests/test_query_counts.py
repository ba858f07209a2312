"""Query counts of the storefront pages and the API do not grow with what they show.

Each page is rendered with a few rows and with many; the same ceiling must hold for both,
so an N+1 query (one per competition, ticket, order or winner) fails here."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from competitions.lifecycle import Status
from competitions.models import Competition, CompetitionImage
from draws.models import Draw
from draws.services import draw_perform
from tests.factories import (
    FAKE_COMMITMENT,
    CompetitionFactory,
    PrizeFactory,
    TicketFactory,
    UserFactory,
    active_competition,
    correct_answer,
    wrong_answer,
)
from tickets.services import order_record_paid
from winners.models import Winner

pytestmark = pytest.mark.django_db

FEW, MANY = 1, 12


@pytest.fixture(params=[FEW, MANY], ids=["few", "many"])
def size(request):
    return request.param


def with_images(competition: Competition, count: int = 2) -> Competition:
    for i in range(count):
        CompetitionImage.objects.create(
            competition=competition,
            image=ContentFile(b"img", name=f"c{competition.pk}-{i}.jpg"),
            alt_text=f"Photo {i}",
            position=i,
        )
    return competition


def shop(count: int) -> list[Competition]:
    """`count` competitions on sale (half closing soon, one featured), with photos."""
    now = timezone.now()
    competitions = []
    for i in range(count):
        ends = now + (timedelta(hours=3) if i % 2 else timedelta(days=5))
        competitions.append(
            with_images(active_competition(ends_at=ends, is_featured=i == 0, max_tickets=500))
        )
    return competitions


def champions(count: int) -> None:
    competition = CompetitionFactory(
        status=Status.DRAWN, seed_commitment=FAKE_COMMITMENT, max_tickets=1000
    )
    for i in range(count):
        ticket = TicketFactory(competition=competition, number=i + 1)
        Winner.objects.create(
            competition=competition,
            prize=PrizeFactory(competition=competition, position=i + 1),
            ticket=ticket,
            user=ticket.user,
            display_name=f"Winner {i}",
            is_published=True,
            published_at=timezone.now(),
        )


def drawn_competition(tickets: int, prizes: int) -> Competition:
    now = timezone.now()
    competition = with_images(
        active_competition(
            now=now - timedelta(days=2),
            starts_at=now - timedelta(days=3),
            ends_at=now - timedelta(hours=1),
            max_tickets=1000,
            max_tickets_per_user=1000,
            prizes=prizes,
        )
    )
    for number in range(1, tickets + 1):
        TicketFactory(competition=competition, number=number)
    draw = draw_perform(competition=competition, mode=Draw.Mode.ADMIN)
    now = timezone.now()
    Winner.objects.filter(draw=draw).update(
        verification_status=Winner.Verification.APPROVED, is_published=True, published_at=now
    )
    competition.refresh_from_db()
    return competition


HOME_MAX = 4  # active competitions, their images, champions
LIST_MAX = 3
DETAIL_MAX = 12  # competition + images/answers/prizes, winners, draw, replay, entry form
CHAMPIONS_MAX = 3
ACCOUNT_MAX = 9  # session, user, tickets, images, winning numbers, orders, lines, wins
API_LIST_MAX = 3


def test_home(client, django_assert_max_num_queries, size):
    shop(size)
    champions(size)

    with django_assert_max_num_queries(HOME_MAX):
        assert client.get("/").status_code == 200


def test_competition_list(client, django_assert_max_num_queries, size):
    shop(size)

    with django_assert_max_num_queries(LIST_MAX):
        assert client.get("/competitions/").status_code == 200


def test_detail_of_a_competition_on_sale(client, django_assert_max_num_queries, size):
    competition = with_images(active_competition(max_tickets=1000, max_tickets_per_user=1000))
    for number in range(1, size * 20 + 1):
        TicketFactory(competition=competition, number=number)

    with django_assert_max_num_queries(DETAIL_MAX):
        assert client.get(competition.get_absolute_url()).status_code == 200


def test_detail_of_a_drawn_competition(client, django_assert_max_num_queries, size):
    competition = drawn_competition(tickets=size * 20, prizes=1)

    with django_assert_max_num_queries(DETAIL_MAX):
        page = client.get(competition.get_absolute_url())
    assert "Watch the draw" in page.content.decode()


def test_champions(client, django_assert_max_num_queries, size):
    champions(size * 3)

    with django_assert_max_num_queries(CHAMPIONS_MAX):
        assert client.get("/champions/").status_code == 200


def test_account(client, django_assert_max_num_queries, size):
    user = UserFactory()
    for i, competition in enumerate(shop(size)):
        TicketFactory(competition=competition, user=user, number=400 + i)  # a postal entry
        answer = correct_answer(competition) if i % 3 else wrong_answer(competition)
        order_record_paid(user=user, competition=competition, answer=answer, quantity=5)
    drawn = drawn_competition(tickets=size * 5, prizes=1)
    TicketFactory(competition=drawn, user=user, number=999)
    winner = drawn.winners.first()
    Winner.objects.filter(pk=winner.pk).update(user=user)
    client.force_login(user)

    with django_assert_max_num_queries(ACCOUNT_MAX):
        page = client.get("/account/")
    assert page.status_code == 200
    assert page.content.decode().count('class="entry"') == size + 1


def test_api_competition_list(client, django_assert_max_num_queries, size):
    shop(size)

    with django_assert_max_num_queries(API_LIST_MAX):
        response = client.get("/api/competitions")
    assert response.json()["count"] == size
