"""On PostgreSQL a sale's last statement, the counters' claim, carries the COMMIT
(tickets.services.rules.commits_with_claim), so the competition's row is held only while the
database runs the two. A refused claim must then fail (the COMMIT never runs): nothing is
written and the customer hears why, as when the claim and the commit were apart. Real
transactions here (the claim commits only in the outermost one)."""

import threading
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from competitions.lifecycle import Status
from competitions.models import Competition
from core.prepared import readable
from notifications.models import Notification
from tests.factories import UserFactory, active_competition
from tickets.exceptions import SalesClosed, SoldOut
from tickets.models import Order, PaymentEvent, Ticket
from tickets.services import order_fulfil, rules

from .conftest import completed_event, post_event
from .helpers import reserve

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def elsewhere(job):
    """Run `job` on another connection (its own transaction, committed), and wait for it."""
    outcome = []

    def run():
        try:
            outcome.append(job())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)
    return outcome[0] if outcome else None


def just_before_the_claim(monkeypatch, job):
    """Run `job` elsewhere right before the sale's first counters' claim."""
    real = rules._claim
    done = []

    def claim(*args, **kwargs):
        if not done:
            done.append(elsewhere(job))
        return real(*args, **kwargs)

    monkeypatch.setattr(rules, "_claim", claim)


def test_a_purchase_commits_with_its_claims(on_postgres):
    competition = active_competition(max_tickets=100, max_tickets_per_user=100)
    with CaptureQueriesContext(connection) as reserving:
        order = reserve(UserFactory(), competition, quantity=3)
    with CaptureQueriesContext(connection) as paying:
        assert order_fulfil(order_id=order.pk).outcome == "paid"

    for captured in (reserving, paying):
        assert_commits_with_its_claim(captured)
    competition.refresh_from_db()
    assert (competition.tickets_sold, competition.tickets_reserved) == (3, 0)
    assert Ticket.objects.filter(order=order, status=Ticket.Status.ACTIVE).count() == 3


def assert_commits_with_its_claim(captured) -> None:
    # Prepared statements with their text; Django's own COMMIT (a no-op by then) left out.
    sent = [readable(q["sql"]) for q in captured if q["sql"] != "COMMIT"]
    claims = [sql for sql in sent if "UPDATE competitions_competition" in sql]
    assert len(claims) == 1 and claims[0].rstrip().endswith("; COMMIT")


def test_a_payment_through_the_webhook_commits_with_its_claim_and_its_events_record(
    on_postgres, client, settings
):
    """The provider's event is marked processed inside the payment's transaction, before its
    last statement, so even the webhook's payment holds the competition's row only while the
    database runs the claim and the commit."""
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_fairdraw"
    competition = active_competition(max_tickets=100, max_tickets_per_user=100)
    order = reserve(UserFactory(), competition, quantity=2)

    with CaptureQueriesContext(connection) as paying:
        assert post_event(client, completed_event(order, event_id="evt_claim")).status_code == 200

    claim_at = next(
        i for i, q in enumerate(paying) if "UPDATE competitions_competition" in readable(q["sql"])
    )
    assert readable(paying[claim_at]["sql"]).rstrip().endswith("; COMMIT")
    # The event's record is in the payment's transaction, before the claim.
    marked = [
        i for i, q in enumerate(paying) if q["sql"].startswith('UPDATE "tickets_paymentevent"')
    ]
    assert len(marked) == 1 and marked[0] < claim_at
    event = PaymentEvent.objects.get(stripe_event_id="evt_claim")
    assert (event.outcome, event.order_id) == ("paid", order.pk) and event.processed_at
    # Delivered again: on record once, nothing issued twice.
    assert post_event(client, completed_event(order, event_id="evt_claim")).status_code == 200
    assert Ticket.objects.filter(order=order).count() == 2
    competition.refresh_from_db()
    assert (competition.tickets_sold, competition.tickets_reserved) == (2, 0)


def test_a_checkout_refused_at_the_claim_writes_nothing_and_says_sold_out(monkeypatch, on_postgres):
    competition = active_competition(max_tickets=10, max_tickets_per_user=10)
    just_before_the_claim(
        monkeypatch,
        lambda: Competition.objects.filter(pk=competition.pk).update(tickets_sold=9),
    )

    with pytest.raises(SoldOut) as refused:
        reserve(UserFactory(), competition, quantity=3)

    assert "Only 1 tickets left" in str(refused.value)
    assert not Order.objects.exists() and not Ticket.objects.exists()
    assert Competition.objects.get(pk=competition.pk).tickets_reserved == 0


def test_a_checkout_whose_price_changed_before_the_claim_is_refused(monkeypatch, on_postgres):
    competition = active_competition(max_tickets=10, max_tickets_per_user=10)
    just_before_the_claim(
        monkeypatch,
        lambda: Competition.objects.filter(pk=competition.pk).update(ticket_price=Decimal("5")),
    )

    with pytest.raises(SalesClosed) as refused:
        reserve(UserFactory(), competition, quantity=1)

    assert "price" in str(refused.value)
    assert not Order.objects.exists() and not Ticket.objects.exists()


def test_the_payment_that_sells_out_takes_the_locked_path_and_tells_operators(
    on_postgres, settings
):
    settings.ADMINS = [("Operations", "ops@fairdraw.example")]
    competition = active_competition(max_tickets=3, max_tickets_per_user=3)
    order = reserve(UserFactory(), competition, quantity=3)

    assert order_fulfil(order_id=order.pk).outcome == "paid"

    competition.refresh_from_db()
    assert (competition.tickets_sold, competition.tickets_reserved) == (3, 0)
    alert = f"admin-sold-out-{competition.pk}-ops@fairdraw.example"
    assert Notification.objects.filter(idempotency_key=alert).exists()


def test_a_payment_for_a_competition_cancelled_before_the_claim_is_refunded(
    monkeypatch, on_postgres
):
    competition = active_competition(max_tickets=10, max_tickets_per_user=10)
    order = reserve(UserFactory(), competition, quantity=2)
    just_before_the_claim(
        monkeypatch,
        lambda: Competition.objects.filter(pk=competition.pk).update(status=Status.CANCELLED),
    )

    outcome = order_fulfil(order_id=order.pk).outcome

    assert outcome.startswith("refunded")
    assert Order.objects.get(pk=order.pk).status == Order.Status.REFUNDED
    assert not Ticket.objects.filter(order=order, status=Ticket.Status.ACTIVE).exists()
    assert Competition.objects.get(pk=competition.pk).tickets_sold == 0
