"""Expiring a released checkout on a real Celery worker on Redis (PostgreSQL and Redis, as in
CI): the release commits, the worker meets a Stripe outage, backs off, and expires it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.celery_worker import wait_until
from tests.factories import UserFactory, active_competition
from tickets.models import Order
from tickets.services import order_checkout_start, reservations_release_expired

from .helpers import reserve


@pytest.fixture
def stripe_for_worker(fake_stripe, monkeypatch):
    """The fake Stripe, for the worker process too: its settings come from the environment."""
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_fairdraw_fake")
    monkeypatch.setenv("STRIPE_API_BASE", fake_stripe.url)
    return fake_stripe


@pytest.fixture
def worker(stripe_for_worker, celery_worker):
    """The worker, started after the environment above is set (it copies os.environ)."""
    return celery_worker


def test_the_worker_expires_a_lapsed_checkout_after_a_stripe_outage(stripe_for_worker, worker):
    fake = stripe_for_worker
    order = reserve(UserFactory(), active_competition(max_tickets=100), quantity=2)
    order_checkout_start(order=order, success_url="http://t/s/", cancel_url="http://t/c/")
    order.refresh_from_db()
    session_id = order.stripe_checkout_session_id
    Order.objects.filter(pk=order.pk).update(reserved_until=timezone.now() - timedelta(minutes=1))
    fake.fail_next = 1  # the first attempt meets a 503

    assert reservations_release_expired() == 1  # commits, then queues the expiry

    wait_until(lambda: fake.sessions[session_id]["status"] == "expired", worker=worker)
    attempts = fake.calls("POST", f"/v1/checkout/sessions/{session_id}/expire")
    assert len(attempts) == 2
    assert "retry" in worker.log().lower()
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED
