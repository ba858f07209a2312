"""Every entrant hears the result: one short message each when a competition is drawn (or
cancelled), with a link to the verification page, however often the work runs."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from draws.models import Draw
from draws.services import draw_perform
from notifications.models import Notification
from tests.factories import UserFactory, active_competition, correct_answer
from tickets.cancellation import competition_cancel
from tickets.entrants import entrant_broadcast_run, entrants_tell
from tickets.models import EntrantBroadcast
from tickets.services import order_record_paid, postal_entry_add

from .conftest import after_end, buy

pytestmark = pytest.mark.django_db

RESULT = Notification.Kind.COMPETITION_RESULT


def results(competition, channel="email"):
    return Notification.objects.filter(
        kind=RESULT, channel=channel, idempotency_key__startswith=f"entrants-{competition.pk}-"
    )


@pytest.fixture
def competition():
    """Two prizes; five customers with valid tickets (one by post, one with two orders, one
    with a phone and consent, one with a phone only) and one with a wrong answer only."""
    competition = active_competition(prizes=2)
    twice = UserFactory()
    buy(competition, quantity=1, user=twice)
    buy(competition, quantity=2, user=twice)
    buy(competition, quantity=1, user=UserFactory(phone="+447700900123", marketing_consent=True))
    buy(competition, quantity=1, user=UserFactory(phone="+447700900456"))
    buy(competition, quantity=1)
    postal_entry_add(user=UserFactory(), competition=competition, quantity=1)
    buy(competition, quantity=1, correct=False)
    competition.refresh_from_db()
    return competition


def draw(competition, capture):
    with capture(execute=True):
        return draw_perform(
            competition=competition, mode=Draw.Mode.ADMIN, now=after_end(competition)
        )


def test_every_entrant_who_did_not_win_gets_one_result(
    competition, django_capture_on_commit_callbacks
):
    done = draw(competition, django_capture_on_commit_callbacks)

    winners = set(done.winners.values_list("user_id", flat=True))
    entrants = set(competition.tickets.filter(status="active").values_list("user_id", flat=True))
    told = results(competition)
    assert sorted(told.values_list("user_id", flat=True)) == sorted(entrants - winners)
    message = told.first().payload
    assert message["subject"] == f"Draw result: {competition.title}"
    assert message["context"]["link"].endswith(f"/competitions/{competition.slug}/draw/")
    assert f"#{done.winning_ticket.number}" in message["context"]["body"]
    # The wrong answer holds no valid ticket: not an entrant, not told.
    wrong = competition.tickets.get(status="invalid").user_id
    assert not Notification.objects.filter(kind=RESULT, user_id=wrong).exists()
    # Winners have their own "you won" message instead.
    assert not told.filter(user_id__in=winners).exists()


def test_a_text_only_with_consent(competition, django_capture_on_commit_callbacks):
    draw(competition, django_capture_on_commit_callbacks)
    texts = results(competition, channel="sms")
    consenting = competition.tickets.filter(user__marketing_consent=True).values("user_id")
    assert set(texts.values_list("user_id", flat=True)) <= set(
        consenting.values_list("user_id", flat=True)
    )
    assert not texts.filter(user__marketing_consent=False).exists()


def test_running_again_adds_nothing(competition, django_capture_on_commit_callbacks):
    draw(competition, django_capture_on_commit_callbacks)
    sent = Notification.objects.count()
    broadcast = EntrantBroadcast.objects.get(competition=competition, subject="result")
    assert broadcast.finished_at is not None

    # The task retried, or the sweeper finding it unfinished: nobody is told twice.
    EntrantBroadcast.objects.filter(pk=broadcast.pk).update(finished_at=None)
    entrant_broadcast_run(broadcast_id=broadcast.pk)
    assert Notification.objects.count() == sent


def test_a_cancelled_competition_tells_every_entrant_once(
    competition, django_capture_on_commit_callbacks
):
    entrants = set(competition.tickets.filter(status="active").values_list("user_id", flat=True))
    staff = UserFactory(is_staff=True)
    with django_capture_on_commit_callbacks(execute=True):
        competition_cancel(competition=competition, by=staff, reason="Prize unavailable")

    told = results(competition)
    assert len(entrants) == 5 and told.count() == 5  # told before their tickets were refunded
    assert set(told.values_list("user_id", flat=True)) == entrants
    assert "Prize unavailable" in told.first().payload["context"]["body"]
    assert not competition.tickets.filter(status="active").exists()


def test_batches_cost_the_same_queries_however_many_entrants():
    def queries_for(customers: int) -> int:
        competition = active_competition(max_tickets=500, max_tickets_per_user=5)
        for _ in range(customers):
            order_record_paid(
                user=UserFactory(),
                competition=competition,
                answer=correct_answer(competition),
                quantity=1,
            )

        def build(user):
            from tickets.events import entrant_notice

            return entrant_notice(
                kind=RESULT,
                user=user,
                competition=competition,
                subject_key="result",
                subject="Result",
                body="Done.",
                link="/",
            )

        with CaptureQueriesContext(connection) as queries:
            told = entrants_tell(competition.pk, build, batch_size=1000)
        assert told == customers
        assert results(competition).count() == customers
        return len(queries)

    assert queries_for(3) == queries_for(30)
