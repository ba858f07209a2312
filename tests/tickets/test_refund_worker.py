"""Refunds on a real Celery worker on Redis (PostgreSQL and Redis, as in CI): a refund queued
after commit is sent by the worker, and one the broker never got is sent by beat's sweeper."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.celery_worker import wait_until
from tests.factories import UserFactory, active_competition
from tickets import payments
from tickets.models import Refund
from tickets.services import order_fulfil, order_refund

from .helpers import reserve


@pytest.fixture
def stripe_for_worker(fake_stripe, monkeypatch):
    """The fake Stripe, for the worker process too: its settings come from the environment."""
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_fairdraw_fake")
    monkeypatch.setenv("STRIPE_API_BASE", fake_stripe.url)
    return fake_stripe


def paid_order(fake):
    order = reserve(UserFactory(), active_competition(max_tickets=100), quantity=2)
    intent = f"pi_test_{order.pk}"
    fake.add_payment(intent, amount=payments.to_pence(order.total))
    order_fulfil(order_id=order.pk, payment_intent_id=intent)
    return order


def test_the_worker_sends_a_refund_queued_after_commit(stripe_for_worker, celery_worker):
    fake = stripe_for_worker
    refund = order_refund(order=paid_order(fake), note="Customer asked")  # commits, then queues

    wait_until(
        lambda: Refund.objects.get(pk=refund.pk).status == Refund.Status.SUCCEEDED,
        worker=celery_worker,
    )
    (call,) = fake.calls("POST", "/v1/refunds")
    assert call.headers["idempotency-key"] == f"fairdraw-refund-{refund.pk}"
    assert Refund.objects.get(pk=refund.pk).provider_refund_id in fake.refunds


def test_beat_sweeps_a_refund_the_broker_never_got(stripe_for_worker, celery_beat_worker):
    fake = stripe_for_worker
    # Recorded without its on-commit task, as when the broker was down at commit.
    refund = order_refund(order=paid_order(fake), submit=False)
    Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - timedelta(minutes=5))

    wait_until(
        lambda: Refund.objects.get(pk=refund.pk).status == Refund.Status.SUCCEEDED,
        worker=celery_beat_worker,
    )
    assert "Sending due task tickets-sweep-refunds" in celery_beat_worker.log()
    assert len(fake.calls("POST", "/v1/refunds")) == 1
