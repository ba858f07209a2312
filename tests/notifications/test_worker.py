"""The outbox end to end on a real Celery worker on Redis (PostgreSQL and Redis, as in CI):
committed entries are delivered through the real SDK, and the beat sweeper sends what the
on-commit dispatch never queued."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from notifications.models import Notification
from tests.celery_worker import wait_until
from tests.fakes.klaviyo_server import FakeKlaviyo
from tests.notifications.helpers import competition, customer, paid_order
from tickets import events as ticket_events

Status = Notification.Status


@pytest.fixture
def fake_klaviyo_for_worker(monkeypatch):
    """A fake Klaviyo the worker process talks to: its settings come from the environment."""
    with FakeKlaviyo() as fake:
        monkeypatch.setenv("NOTIFICATIONS_KLAVIYO_BACKEND", "klaviyo")
        monkeypatch.setenv("KLAVIYO_PRIVATE_API_KEY", "pk_worker_test")
        monkeypatch.setenv("KLAVIYO_API_URL", fake.url)
        monkeypatch.setenv("NOTIFICATIONS_SMS_BACKEND", "console")
        yield fake


@pytest.fixture
def worker(fake_klaviyo_for_worker, celery_worker):
    """The worker, started after the environment above is set (it copies os.environ)."""
    return celery_worker


def test_the_worker_delivers_what_a_transaction_committed(fake_klaviyo_for_worker, worker):
    user = customer()
    comp = competition(title="Win a Porsche 911")
    with transaction.atomic():
        order = paid_order(user, (comp, [3, 7], True))
        ticket_events.order_placed(order)
        assert Notification.objects.filter(status=Status.PENDING).count() == 4

    wait_until(
        lambda: set(Notification.objects.values_list("status", flat=True)) == {Status.SENT},
        worker=worker,
    )
    names = [
        e["data"]["attributes"]["metric"]["data"]["attributes"]["name"]
        for e in (fake_klaviyo_for_worker.events())
    ]
    assert sorted(names) == ["Competition Entered", "Order Placed"]
    assert Notification.objects.filter(attempts=1).count() == 4
    assert "SMS to +447700900123: Fairdraw: thanks Sarah!" in worker.log()


def test_beat_sweeper_sends_an_entry_that_was_never_queued(celery_beat_worker):
    beat_worker = celery_beat_worker
    user = customer(consent=False)
    # Written without the on-commit dispatch, as when the broker was down at commit.
    notification = Notification.objects.create(
        kind=Notification.Kind.ORDER_PLACED,
        channel=Notification.Channel.SMS,
        recipient=user.phone,
        user=user,
        payload={"body": "Fairdraw: order confirmed."},
        idempotency_key="never-queued",
        next_attempt_at=timezone.now() - timedelta(seconds=1),
    )
    wait_until(
        lambda: Notification.objects.get(pk=notification.pk).status == Status.SENT,
        worker=beat_worker,
    )
    assert "Sending due task notifications-sweep-outbox" in beat_worker.log()
