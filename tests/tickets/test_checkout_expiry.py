"""A released reservation closes its Stripe checkout, so the customer cannot pay for numbers
they no longer hold: after the release commits, through the real SDK against a fake Stripe."""

import logging
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.factories import UserFactory, active_competition
from tickets import payments, tasks
from tickets.cancellation import competition_cancel
from tickets.exceptions import PaymentFailed
from tickets.models import Order, Refund
from tickets.services import (
    order_checkout_start,
    order_release,
    reservations_release_expired,
)

from .conftest import paid_event, post_event
from .helpers import reserve

pytestmark = pytest.mark.django_db


def checkout(competition=None, user=None, **line) -> Order:
    """A pending order whose checkout page is open (at the fake Stripe, or the dev one)."""
    competition = competition or active_competition(max_tickets=100)
    order = reserve(user or UserFactory(), competition, **(line or {"quantity": 2}))
    order_checkout_start(order=order, success_url="http://t/s/", cancel_url="http://t/c/")
    order.refresh_from_db()
    return order


def lapse(order) -> None:
    Order.objects.filter(pk=order.pk).update(reserved_until=timezone.now() - timedelta(minutes=1))


@pytest.fixture
def eager_retries(monkeypatch):
    """Let an eager task retry as a worker would (at once here, ignoring the countdown): the
    test settings otherwise re-raise the Retry to the caller."""
    from config import celery_app

    monkeypatch.setitem(celery_app.conf, "task_eager_propagates", False)


def expire_calls(fake, order):
    return fake.calls("POST", f"/v1/checkout/sessions/{order.stripe_checkout_session_id}/expire")


def test_a_lapsed_reservation_expires_its_checkout_once_the_release_commits(
    fake_stripe, django_capture_on_commit_callbacks
):
    order = checkout()
    lapse(order)

    with django_capture_on_commit_callbacks() as queued:
        assert reservations_release_expired() == 1
    # The sweep's transaction made no call to Stripe; the expiry waits for the commit.
    assert expire_calls(fake_stripe, order) == []
    assert fake_stripe.sessions[order.stripe_checkout_session_id]["status"] == "open"

    for callback in queued:
        callback()

    assert len(expire_calls(fake_stripe, order)) == 1
    assert fake_stripe.sessions[order.stripe_checkout_session_id]["status"] == "expired"
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED


def test_cancelling_on_the_payment_page_expires_the_checkout(
    client, fake_stripe, django_capture_on_commit_callbacks
):
    user = UserFactory()
    order = checkout(user=user)
    client.force_login(user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.get(f"/checkout/cancel/{order.reference}/")

    assert "Payment cancelled" in response.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert fake_stripe.sessions[order.stripe_checkout_session_id]["status"] == "expired"


def test_cancelling_a_competition_expires_the_checkouts_in_progress(
    fake_stripe, django_capture_on_commit_callbacks
):
    competition = active_competition(max_tickets=100)
    order = checkout(competition)

    with django_capture_on_commit_callbacks(execute=True):
        competition_cancel(
            competition=competition, by=UserFactory(is_staff=True), reason="Prize unavailable"
        )

    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert fake_stripe.sessions[order.stripe_checkout_session_id]["status"] == "expired"


def test_a_checkout_paid_before_it_could_be_expired_is_left_to_the_late_payment_rules(
    client, fake_stripe, django_capture_on_commit_callbacks
):
    competition = active_competition(max_tickets=100)
    order = checkout(competition, numbers=[7, 8])
    lapse(order)
    # The customer pays on Stripe's page just as the reservation lapses.
    fake_stripe.complete_session(
        order.stripe_checkout_session_id, payment_intent=f"pi_test_{order.pk}"
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert reservations_release_expired() == 1

    session_path = f"/v1/checkout/sessions/{order.stripe_checkout_session_id}"
    assert len(expire_calls(fake_stripe, order)) == 1  # refused: the session is complete
    assert len(fake_stripe.calls("GET", session_path)) == 1  # so we asked how it closed
    assert fake_stripe.sessions[order.stripe_checkout_session_id]["status"] == "complete"
    assert fake_stripe.calls("POST", "/v1/refunds") == []
    assert not Refund.objects.exists()

    # Stripe's webhook then arrives: numbers still free, so the tickets are issued after all.
    response = post_event(client, paid_event(fake_stripe, order))
    assert response.json()["outcome"] == "paid after the reservation lapsed"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert sorted(order.tickets.values_list("number", flat=True)) == [7, 8]
    assert fake_stripe.calls("POST", "/v1/refunds") == []


def test_a_payment_recorded_before_the_task_runs_leaves_nothing_to_expire(
    client, fake_stripe, django_capture_on_commit_callbacks
):
    order = checkout()
    lapse(order)
    with django_capture_on_commit_callbacks() as queued:
        reservations_release_expired()
    fake_stripe.complete_session(
        order.stripe_checkout_session_id, payment_intent=f"pi_test_{order.pk}"
    )
    assert post_event(client, paid_event(fake_stripe, order)).status_code == 200

    for callback in queued:
        callback()

    assert expire_calls(fake_stripe, order) == []
    assert tasks.expire_checkout.delay(order.pk).get() == "nothing to expire: the order is paid"


def test_expiring_twice_is_harmless(fake_stripe):
    order = checkout()
    lapse(order)
    reservations_release_expired()  # inside the test's transaction: its task is not queued

    assert tasks.expire_checkout.delay(order.pk).get() == "checkout expired"
    assert tasks.expire_checkout.delay(order.pk).get() == "checkout expired"

    assert len(expire_calls(fake_stripe, order)) == 2  # the second answered 400: not open
    assert fake_stripe.sessions[order.stripe_checkout_session_id]["status"] == "expired"


def test_stripe_down_is_retried_with_growing_delays(
    fake_stripe, eager_retries, django_capture_on_commit_callbacks, monkeypatch
):
    order = checkout()
    lapse(order)
    fake_stripe.fail_next = 2  # two 503s, then Stripe is back
    delays = []
    retry = tasks.expire_checkout.retry

    def spy(*args, **kwargs):
        delays.append(kwargs["countdown"])
        return retry(*args, **kwargs)

    monkeypatch.setattr(tasks.expire_checkout, "retry", spy)

    with django_capture_on_commit_callbacks(execute=True):
        assert reservations_release_expired() == 1

    assert len(expire_calls(fake_stripe, order)) == 3
    assert fake_stripe.sessions[order.stripe_checkout_session_id]["status"] == "expired"
    assert len(delays) == 2
    assert 5 <= delays[0] <= 6 and 10 <= delays[1] <= 12


def test_retry_delays_double_up_to_ten_minutes_with_some_jitter(monkeypatch):
    monkeypatch.setattr(tasks.random, "random", lambda: 0.0)
    assert [tasks.expire_retry_delay(n) for n in range(9)] == [
        5,
        10,
        20,
        40,
        80,
        160,
        320,
        600,
        600,
    ]
    monkeypatch.setattr(tasks.random, "random", lambda: 0.999)
    assert 5.99 < tasks.expire_retry_delay(0) < 6
    assert 719 < tasks.expire_retry_delay(20) < 720
    # All retries together span about the half hour after which Stripe expires it anyway.
    monkeypatch.setattr(tasks.random, "random", lambda: 0.0)
    total = sum(tasks.expire_retry_delay(n) for n in range(tasks.EXPIRE_MAX_RETRIES))
    assert timedelta(minutes=25) < timedelta(seconds=total) < timedelta(minutes=40)


def test_stripe_down_for_good_is_given_up_and_logged(fake_stripe, eager_retries, caplog):
    order = checkout()
    lapse(order)
    reservations_release_expired()
    fake_stripe.unavailable = True

    with caplog.at_level(logging.ERROR, logger="tickets.tasks"):
        outcome = tasks.expire_checkout.delay(order.pk).get()

    assert outcome.startswith("gave up:")
    assert len(expire_calls(fake_stripe, order)) == 1 + tasks.EXPIRE_MAX_RETRIES
    assert f"Gave up expiring the checkout of order {order.pk}" in caplog.text
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED  # the numbers went back all the same


def test_a_session_stripe_does_not_know_is_not_retried(fake_stripe, caplog):
    order = checkout()
    lapse(order)
    reservations_release_expired()
    Order.objects.filter(pk=order.pk).update(stripe_checkout_session_id="cs_test_unknown")

    with caplog.at_level(logging.ERROR, logger="tickets.services"):
        outcome = tasks.expire_checkout.delay(order.pk).get()

    assert outcome.startswith("could not expire: Stripe has no checkout session cs_test_unknown")
    assert len(fake_stripe.calls("POST", "/v1/checkout/sessions/cs_test_unknown/expire")) == 1
    assert "could not be expired" in caplog.text


def test_stripe_saying_the_checkout_expired_is_not_asked_again(
    client, fake_stripe, django_capture_on_commit_callbacks
):
    order = checkout()
    event = {
        "id": "evt_expired_1",
        "type": "checkout.session.expired",
        "data": {
            "object": {
                "id": order.stripe_checkout_session_id,
                "object": "checkout.session",
                "status": "expired",
                "metadata": {"order_id": str(order.pk)},
            }
        },
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert post_event(client, event).json()["outcome"] == "reservation released"
    assert expire_calls(fake_stripe, order) == []


def test_an_order_without_a_checkout_needs_nothing_from_stripe(
    fake_stripe, django_capture_on_commit_callbacks
):
    order = reserve(UserFactory(), active_competition(), quantity=1)
    lapse(order)
    with django_capture_on_commit_callbacks(execute=True) as queued:
        assert reservations_release_expired() == 1
    assert queued == []
    assert fake_stripe.requests == []


def test_the_dev_checkout_calls_nothing(settings, django_capture_on_commit_callbacks, monkeypatch):
    settings.STRIPE_SECRET_KEY = ""
    calls = []
    monkeypatch.setattr(payments.DevGateway, "expire_checkout", lambda *a: calls.append(a))
    monkeypatch.setattr(tasks.expire_checkout, "delay", lambda *a: calls.append(a))
    order = checkout()
    assert order.stripe_checkout_session_id.startswith(payments.DEV_SESSION_PREFIX)

    with django_capture_on_commit_callbacks(execute=True) as queued:
        order_release(order_id=order.pk, reason=Order.Status.CANCELLED, only_if_lapsed=False)

    assert queued == []
    assert calls == []


def test_a_release_while_stripe_opens_the_page_closes_the_new_session(
    fake_stripe, django_capture_on_commit_callbacks, monkeypatch
):
    competition = active_competition(ticket_price=Decimal("2.00"))
    order = reserve(UserFactory(), competition, quantity=1)
    create = payments.StripeGateway.create_checkout

    def create_while_released(self, order, **kwargs):
        session = create(self, order, **kwargs)
        # Meanwhile the competition's checkouts are released (before the session id is saved).
        order_release(order_id=order.pk, reason=Order.Status.CANCELLED, only_if_lapsed=False)
        return session

    monkeypatch.setattr(payments.StripeGateway, "create_checkout", create_while_released)

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(PaymentFailed, match="no longer held"),
    ):
        order_checkout_start(order=order, success_url="http://t/s/", cancel_url="http://t/c/")

    order.refresh_from_db()
    assert order.stripe_checkout_session_id in fake_stripe.sessions
    assert len(expire_calls(fake_stripe, order)) == 1
    assert fake_stripe.sessions[order.stripe_checkout_session_id]["status"] == "expired"
