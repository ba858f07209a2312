"""Query counts of the storefront pages and the API do not grow with what they show.

Each page is rendered with a few rows and with many; the same ceiling must hold for both,
so an N+1 query (one per competition, ticket, order or winner) fails here. A purchase's
statements are counted exactly, in all and from taking the competition's row on (the end of
this module), so a new round trip in checkout, or one more while the hot row is held, fails
here too."""

from datetime import timedelta
from decimal import Decimal

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
    force_lucky_dip,
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
DETAIL_MAX = 12  # competition + images/answers/prizes/bundles, winners, draw, replay, entry form
CHAMPIONS_MAX = 3
ACCOUNT_MAX = 10  # session, user, tickets, images, winning numbers, receipts, orders, lines, wins
API_LIST_MAX = 4  # competitions, their answers, images and bundles (multi-buy prices)


def test_home(client, django_assert_max_num_queries, size):
    shop(size)
    champions(size)

    with django_assert_max_num_queries(HOME_MAX):
        assert client.get("/").status_code == 200


def test_competition_list(client, django_assert_max_num_queries, size):
    shop(size)

    with django_assert_max_num_queries(LIST_MAX):
        assert client.get("/competitions/").status_code == 200


@pytest.mark.parametrize("count", [FEW, 30], ids=["few", "more-than-a-page"])
def test_bounded_pages_with_more_competitions_than_they_show(
    client, django_assert_max_num_queries, count
):
    shop(count)
    champions(count)

    for path in ("/", "/competitions/", "/competitions/?page=2"):
        with django_assert_max_num_queries(HOME_MAX if path == "/" else LIST_MAX):
            assert client.get(path).status_code == 200


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


# Operator settings, latest draw; opened and short competitions, skill answers, prize totals
# and instant wins by competition, card refusals, customers, limits, self-exclusions ever,
# postal entries and their waits, draws, complaints; the published receipt-signing keys.
COMPLY_MAX = 15


def test_how_we_comply_with_its_figures(client, django_assert_max_num_queries, size):
    from complaints.services import complaint_submit
    from draws.verification import verify_and_record
    from responsible_play.limits import spend_limit_prompt_shown, spend_limit_set
    from tickets.services import postal_entry_add

    for i, competition in enumerate(shop(size)):
        PrizeFactory(competition=competition, kind="instant", position=None, quantity=1)
        customer = UserFactory()
        spend_limit_prompt_shown(user=customer)
        spend_limit_set(user=customer, monthly_limit=None if i % 2 else Decimal("100"))
        postal_entry_add(user=customer, competition=competition)
        complaint_submit(
            name="Ann",
            email=f"ann{i}@example.com",
            category="other",
            message="A problem with my order here.",
        )
    verify_and_record(drawn_competition(tickets=3, prizes=1).draws.get())

    with django_assert_max_num_queries(COMPLY_MAX):
        page = client.get("/how-we-comply/")
    assert "Figures as at" in page.content.decode()


def test_api_competition_list(client, django_assert_max_num_queries, size):
    shop(size)

    with django_assert_max_num_queries(API_LIST_MAX):
        response = client.get("/api/competitions")
    assert response.json()["count"] == size


# --- checkout ---------------------------------------------------------------------------------
# One purchase is order_reserve (numbers held) then order_fulfil (paid). A sale takes its
# competitions' rows last, in the one statement that moves their counters, and every statement
# from then to the commit makes every other buyer of that competition wait. Counted without
# the statements only one database sends (savepoints, PostgreSQL's SET LOCAL lock_timeout), so
# the same ceilings hold on SQLite and PostgreSQL; BEGIN and COMMIT are not counted. Per extra
# competition in the basket a purchase may add only its own steps.

# PostgreSQL and SQLite differ in a purchase's statements (tickets.services): on PostgreSQL the
# customer's row is locked and the operator settings read in one statement, the basket's answers
# bring their competitions' bundles, one reads the customer's standing, one writes the order,
# its lines and, picking them, its lucky dips (no number probe; several competitions in one
# statement), and a paid order's tickets turn active in the statement that claims the counters
# (the ledger's trigger takes the row for the first).
#
# Reserve: basket with its bundles (the order is priced before any lock: tickets.pricing),
# customer (locked) with whether their e-mail is confirmed, and settings, with what the
# customer stands on (their open checkout to give back, spend, holdings) as the next statement
# in the same round trip, order with its lines and tickets; then the competition's row: the
# counters' claim. SQLite: bundles, settings, the standing in three statements, the order, its
# lines and its tickets in three, a number probe before the tickets.
RESERVE_MAX = {"postgresql": 4, "sqlite": 12}
# (A discount code adds its own statements: tests/tickets/test_pricing.py.)
# Fulfil: order with lines and their numbers (for the confirmation and the receipt), customer
# (locked) and settings, order claimed as paid with its signed receipt and its confirmation
# e-mail written in the same statement; then the competition's row: tickets turned active,
# the skill-question figures counted and the counters' claim, in one statement. SQLite: the
# numbers, the settings, the confirmation, the receipt's key and the receipt, the figures, and
# tickets and counters in two statements.
FULFIL_MAX = {"postgresql": 4, "sqlite": 11}
RESERVE_LOCKED_MAX = FULFIL_LOCKED_MAX = 1
# A customer with a phone and marketing consent: the text and Klaviyo events go in the same
# statement as the e-mail; the checkout's Klaviyo event costs its numbers, photos and row,
# the confirmation its photos (all before the competition's row).
CONSENT_RESERVE_EXTRA, CONSENT_FULFIL_EXTRA = 3, 1
# Each extra competition: its counters (reserve), and on SQLite its number probe; its tickets,
# skill-question figures and counters (fulfil), one statement on PostgreSQL. Its counters are claimed after the first
# competition's, so they count under the lock too.
PER_EXTRA_RESERVE = {"postgresql": 1, "sqlite": 2}
PER_EXTRA_FULFIL = {"postgresql": 1, "sqlite": 3}
PER_EXTRA_COMPETITION_LOCKED = 1


def expected(counts: dict[str, int]) -> int:
    from django.db import connection

    return counts[connection.vendor]


def counted(queries) -> list[str]:
    """The statements sent, less those only one database sends on its own (savepoints, lock
    timeouts); sent in front of a statement, in the same round trip, they count as that one."""
    from core.prepared import readable

    only = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT", "SET LOCAL")
    return [
        readable(q["sql"])  # a prepared statement with its text (core.prepared)
        for q in queries
        if not (q["sql"].startswith(only) and ";" not in q["sql"].strip().rstrip(";"))
    ]


def takes_a_competition_row(sql: str) -> bool:
    """A statement that locks a competition's row: SELECT ... FOR UPDATE, an UPDATE of it, or
    on PostgreSQL one that turns tickets active (the ledger's trigger locks the competition to
    bump its version: draws/migrations/0003)."""
    from django.db import connection

    sql = " ".join(sql.upper().replace('"', "").split())
    if "UPDATE COMPETITIONS_COMPETITION" in sql:
        return True
    if "COMPETITIONS_COMPETITION" in sql and "FOR UPDATE" in sql:
        return True
    # (A checkout writes reserved tickets, which the trigger leaves alone.)
    return (
        connection.vendor == "postgresql" and "UPDATE TICKETS_TICKET SET STATUS = 'ACTIVE'" in sql
    )


def purchase_statements(user, competitions) -> dict[str, tuple[int, int]]:
    """(all, from taking the first competition's row on) statements of each half of one
    purchase: the second number is how many statements every other buyer of that competition
    waits for."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tickets.services import LineRequest, order_fulfil, order_reserve

    lines = [LineRequest(c.pk, correct_answer(c).pk, quantity=2) for c in competitions]
    seen: dict[str, tuple[int, int]] = {}
    for name in ("reserve", "fulfil"):
        capture = CaptureQueriesContext(connection)
        with capture:
            if name == "reserve":
                order = order_reserve(user=user, lines=lines)
            else:
                assert order_fulfil(order_id=order.pk).outcome == "paid"
        statements = counted(capture.captured_queries)
        at = next(i for i, sql in enumerate(statements) if takes_a_competition_row(sql))
        seen[name] = (len(statements), len(statements) - at)
    return seen


@pytest.fixture
def checkout_ready():
    """Operator settings stored, the receipt key published and each competition's first sale
    made, as on a live site."""
    from tests.factories import operator_settings
    from tickets.services.receipts import receipt_key_forget, receipt_key_published

    operator_settings()
    receipt_key_forget()  # this process read it in another test, whose rows are gone
    receipt_key_published()

    def ready(count: int) -> list[Competition]:
        competitions = [
            active_competition(max_tickets=1000, max_tickets_per_user=100) for _ in range(count)
        ]
        for competition in competitions:
            TicketFactory(competition=competition, number=1)
        return competitions

    return ready


def test_checkout_round_trips(checkout_ready):
    customer = UserFactory(phone="", marketing_consent=False)

    seen = purchase_statements(customer, checkout_ready(1))

    assert seen == {
        "reserve": (expected(RESERVE_MAX), RESERVE_LOCKED_MAX),
        "fulfil": (expected(FULFIL_MAX), FULFIL_LOCKED_MAX),
    }


def test_checkout_round_trips_with_a_text_and_klaviyo(checkout_ready):
    customer = UserFactory(phone="07700 900123", marketing_consent=True)

    seen = purchase_statements(customer, checkout_ready(1))

    assert seen == {
        "reserve": (expected(RESERVE_MAX) + CONSENT_RESERVE_EXTRA, RESERVE_LOCKED_MAX),
        "fulfil": (expected(FULFIL_MAX) + CONSENT_FULFIL_EXTRA, FULFIL_LOCKED_MAX),
    }


def test_checkout_round_trips_grow_only_by_each_competitions_steps(checkout_ready):
    customer = UserFactory(phone="", marketing_consent=False)

    seen = purchase_statements(customer, checkout_ready(3))

    locked = 2 * PER_EXTRA_COMPETITION_LOCKED
    assert seen == {
        "reserve": (
            expected(RESERVE_MAX) + 2 * expected(PER_EXTRA_RESERVE),
            RESERVE_LOCKED_MAX + locked,
        ),
        "fulfil": (
            expected(FULFIL_MAX) + 2 * expected(PER_EXTRA_FULFIL),
            FULFIL_LOCKED_MAX + locked,
        ),
    }


# An instant-win competition: paying looks for a win with one statement (the award's
# compare-and-set), before the competition's row; a win adds its winner and messages, also
# before it. Nothing is added under the hot row's lock.
INSTANT_WIN_LOOKUP = 1


@pytest.mark.parametrize("wins", [False, True], ids=["no win", "instant win"])
def test_checkout_of_an_instant_win_competition_adds_nothing_under_the_hot_row(
    checkout_ready, monkeypatch, wins
):
    from tests.factories import instant_numbers, instant_win_competition

    checkout_ready(0)  # operator settings stored
    competition = instant_win_competition(max_tickets=1000, max_tickets_per_user=100)
    secret = instant_numbers(competition)
    plain = [n for n in range(1, 1000) if n not in secret][:3]
    TicketFactory(competition=competition, number=plain[2])
    picked = [secret[0], plain[0]] if wins else plain[:2]
    force_lucky_dip(monkeypatch, *picked)
    customer = UserFactory(phone="", marketing_consent=False)

    seen = purchase_statements(customer, [competition])

    assert seen["reserve"][1] == RESERVE_LOCKED_MAX  # (the forced lucky dip probes nothing)
    total, locked = seen["fulfil"]
    assert locked == FULFIL_LOCKED_MAX
    if wins:
        assert total > expected(FULFIL_MAX) + INSTANT_WIN_LOOKUP
    else:
        assert total == expected(FULFIL_MAX) + INSTANT_WIN_LOOKUP
