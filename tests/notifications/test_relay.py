"""The outbox relay (NOTIFICATIONS_DISPATCH "relay", production's default): a request that
commits a message publishes nothing; the relay's tick queues what was committed since, once
each; the sweeper still catches anything the relay could not queue."""

import threading

import pytest
from django.core import mail
from django.db import connection, transaction

from notifications.models import Notification
from notifications.services import notification_enqueue, notification_relay, notification_sweep
from notifications.tasks import relay_outbox
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

Status = Notification.Status


@pytest.fixture
def relay(settings):
    settings.NOTIFICATIONS_DISPATCH = "relay"


def email(user, key="relay-1"):
    return notification_enqueue(
        kind=Notification.Kind.ORDER_PLACED,
        channel=Notification.Channel.EMAIL,
        recipient=user.email,
        user=user,
        payload={"subject": "Ops", "template": "admin_alert", "context": {"message": "Hi"}},
        idempotency_key=key,
    )


def test_a_committed_message_waits_for_the_relay_which_queues_it_once(
    relay, django_capture_on_commit_callbacks
):
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True) as hooks:
        message = email(user)
    assert hooks == []  # the request publishes nothing
    assert Notification.objects.get(pk=message.pk).status == Status.PENDING

    assert relay_outbox() == 1  # (eager Celery in tests: sent at once)

    message.refresh_from_db()
    assert message.status == Status.SENT
    assert [m.to for m in mail.outbox] == [[user.email]]
    assert relay_outbox() == 0


def test_the_commit_mode_queues_each_message_with_its_transaction(
    settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_DISPATCH = "commit"
    with django_capture_on_commit_callbacks(execute=True) as hooks:
        message = email(UserFactory())
    assert len(hooks) == 1
    message.refresh_from_db()
    assert message.status == Status.SENT
    assert notification_relay() == 0


def test_a_message_the_broker_refused_is_left_due_for_the_sweeper(relay, monkeypatch):
    from kombu.exceptions import OperationalError

    from notifications import tasks

    message = email(UserFactory())

    def broker_down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(tasks.send_notification, "delay", broker_down)
    assert notification_relay() == 0
    monkeypatch.undo()

    message.refresh_from_db()
    assert message.status == Status.PENDING and message.next_attempt_at is not None
    assert notification_sweep() == 1  # due at once, not after the usual wait
    message.refresh_from_db()
    assert message.status == Status.SENT


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ticks_that_overlap_never_queue_a_message_twice(relay, on_postgres):
    """A tick skips what another tick holds (SKIP LOCKED), and marks what it takes."""
    message = email(UserFactory())
    holding, release = threading.Event(), threading.Event()

    def other_tick():
        try:
            with transaction.atomic():
                list(Notification.objects.select_for_update().filter(pk=message.pk))
                holding.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_tick)
    thread.start()
    assert holding.wait(10)
    try:
        assert notification_relay() == 0  # held elsewhere: skipped, not waited for
    finally:
        release.set()
        thread.join(10)
    assert notification_relay() == 1
    assert notification_relay() == 0
