"""Refunds go out through an outbox (tickets.services.refunds): recorded with the decision,
sent after commit, swept until the payment provider confirms, never paid out twice."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from competitions.lifecycle import Status
from competitions.models import Competition
from core.models import AuditEntry
from notifications.models import Notification
from tests.celery_worker import reset_broker_pools
from tests.factories import UserFactory, active_competition
from tickets import payments
from tickets.models import Order, PaymentEvent, Refund
from tickets.services import order_fulfil, order_refund, refund_submit, refund_sweep
from tickets.services import refunds as refund_service

from .conftest import paid_event, post_event
from .helpers import reserve

pytestmark = pytest.mark.django_db

REFUNDS = ("POST", "/v1/refunds")


def later(minutes: float):
    return timezone.now() + timedelta(minutes=minutes)


@pytest.fixture
def broker_down():
    """The app's broker refuses connections, as Redis does while it is down: queueing a task
    raises. Calling the fixture's value brings the (eager, test) broker back."""
    from config import celery_app

    saved = {key: celery_app.conf[key] for key in ("task_always_eager", "broker_url")}
    celery_app.conf.update(task_always_eager=False, broker_url="redis://127.0.0.1:1/0")
    reset_broker_pools()

    def back_up():
        celery_app.conf.update(saved)
        reset_broker_pools()

    yield back_up
    back_up()


@pytest.fixture
def operators(settings):
    settings.ADMINS = [("Ops", "ops@fairdraw.example")]


def alerts():
    return list(
        Notification.objects.filter(kind=Notification.Kind.ADMIN_ALERT).values_list(
            "payload__subject", flat=True
        )
    )


def paid(competition, **kw):
    order = reserve(UserFactory(), competition, **kw)
    order_fulfil(order_id=order.pk, payment_intent_id=f"pi_test_{order.pk}")
    return Order.objects.get(pk=order.pk)


def recorded_refund(fake_stripe) -> Refund:
    """A staff refund written but not yet sent, as if its task never reached the broker."""
    order = paid(active_competition(), quantity=2)
    fake_stripe.add_payment(order.stripe_payment_intent_id, amount=payments.to_pence(order.total))
    return order_refund(order=order, note="Customer asked")


def test_broker_down_during_an_automatic_refund_leaves_it_to_the_sweeper(
    client, fake_stripe, broker_down, django_capture_on_commit_callbacks
):
    competition = active_competition()
    order = reserve(UserFactory(), competition, quantity=2)
    Competition.objects.filter(pk=competition.pk).update(status=Status.DRAWN)

    with django_capture_on_commit_callbacks(execute=True):
        response = post_event(client, paid_event(fake_stripe, order, event_id="evt_drawn"))

    # The payment is dealt with: processed, refunded in our books, the customer told...
    assert response.status_code == 200
    assert response.json()["outcome"].startswith("refunded")
    assert PaymentEvent.objects.get(stripe_event_id="evt_drawn").processed_at is not None
    assert Order.objects.get(pk=order.pk).status == Order.Status.REFUNDED
    # ...and the money is owed, on record, not yet sent.
    refund = Refund.objects.get(order=order)
    assert (refund.status, refund.attempts) == (Refund.Status.PENDING, 0)
    assert fake_stripe.calls(*REFUNDS) == []
    # Sweeping while the broker is still down loses nothing.
    assert refund_sweep(now=later(3)) == 0
    assert Refund.objects.get(pk=refund.pk).status == Refund.Status.PENDING

    broker_down()  # the broker is back
    assert refund_sweep(now=later(4)) == 1

    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    (call,) = fake_stripe.calls(*REFUNDS)
    assert call.params["payment_intent"] == f"pi_test_{order.pk}"
    assert call.params["amount"] == str(payments.to_pence(order.total))
    assert call.headers["idempotency-key"] == f"fairdraw-refund-{refund.pk}"
    assert list(fake_stripe.refunds) == [refund.provider_refund_id]
    # Sweeping again, later, sends nothing more.
    assert refund_sweep(now=later(60 * 24)) == 0
    assert len(fake_stripe.calls(*REFUNDS)) == 1
    [sent] = AuditEntry.objects.filter(action="refund.sent")
    assert sent.after["provider_refund_id"] == refund.provider_refund_id


def test_a_refund_queued_after_commit_is_sent_at_once(
    fake_stripe, django_capture_on_commit_callbacks
):
    order = paid(active_competition(), quantity=1)
    with django_capture_on_commit_callbacks(execute=True):
        refund = order_refund(order=order)
    refund.refresh_from_db()
    assert (refund.status, refund.attempts) == (Refund.Status.SUCCEEDED, 1)
    assert refund_sweep(now=later(10)) == 0
    assert len(fake_stripe.calls(*REFUNDS)) == 1


def test_the_sweeper_leaves_a_fresh_refund_to_its_on_commit_task(fake_stripe):
    refund = recorded_refund(fake_stripe)
    assert refund_sweep() == 0  # its task may still be on its way
    assert fake_stripe.calls(*REFUNDS) == []
    assert refund_sweep(now=later(3)) == 1
    assert Refund.objects.get(pk=refund.pk).status == Refund.Status.SUCCEEDED


def test_a_sweep_while_another_is_sending_does_not_send_again(fake_stripe, monkeypatch):
    refund = recorded_refund(fake_stripe)
    send = payments.StripeGateway.refund
    nested = []

    def meanwhile(gateway, **kw):
        # Another sweeper and another worker's task run while this one waits on Stripe.
        nested.append(refund_sweep(now=later(4)))
        nested.append(refund_submit(refund_id=refund.pk).status)
        return send(gateway, **kw)

    monkeypatch.setattr(payments.StripeGateway, "refund", meanwhile)
    assert refund_sweep(now=later(3)) == 1

    assert nested == [0, Refund.Status.SUBMITTING]
    assert Refund.objects.get(pk=refund.pk).status == Refund.Status.SUCCEEDED
    assert len(fake_stripe.calls(*REFUNDS)) == 1


def test_a_worker_that_died_after_stripe_refunded_is_not_paid_twice(fake_stripe, monkeypatch):
    refund = recorded_refund(fake_stripe)

    def crash(*args, **kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(refund_service, "_record_success", crash)
    with pytest.raises(RuntimeError):
        refund_submit(refund_id=refund.pk)
    monkeypatch.undo()
    assert Refund.objects.get(pk=refund.pk).status == Refund.Status.SUBMITTING
    assert len(fake_stripe.refunds) == 1  # Stripe paid it out; we never heard

    assert refund_sweep(now=later(5)) == 0  # a claim this fresh may still be working
    assert refund_sweep(now=later(11)) == 1  # taken back and sent again

    refund.refresh_from_db()
    assert (refund.status, refund.attempts) == (Refund.Status.SUCCEEDED, 2)
    # The second send found the first at Stripe by its metadata and did not create another.
    assert len(fake_stripe.calls(*REFUNDS)) == 1
    assert len(fake_stripe.calls("GET", "/v1/refunds")) == 2
    assert list(fake_stripe.refunds) == [refund.provider_refund_id]  # one refund at Stripe


def test_a_refund_sent_again_after_stripe_forgot_its_idempotency_key_is_not_paid_twice(
    fake_stripe, monkeypatch
):
    refund = recorded_refund(fake_stripe)

    def crash(*args, **kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(refund_service, "_record_success", crash)
    with pytest.raises(RuntimeError):
        refund_submit(refund_id=refund.pk)
    monkeypatch.undo()
    fake_stripe._idempotent.clear()  # Stripe keeps idempotency keys for 24 hours only

    assert refund_sweep(now=later(60 * 30)) == 1  # a staff retry the next day

    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert list(fake_stripe.refunds) == [refund.provider_refund_id]  # still one refund
    assert fake_stripe.refunds[refund.provider_refund_id]["metadata"]["refund_id"] == str(refund.pk)


def test_a_stripe_outage_is_retried_with_back_off_until_confirmed(fake_stripe, operators):
    refund = recorded_refund(fake_stripe)
    fake_stripe.fail_next = 2

    assert refund_submit(refund_id=refund.pk).status == Refund.Status.PENDING
    refund.refresh_from_db()
    assert refund.attempts == 1 and "unavailable" in refund.failure_message.lower()
    first_wait = refund.next_attempt_at - timezone.now()
    assert timedelta(seconds=50) < first_wait <= timedelta(seconds=60)
    assert refund_sweep() == 0  # not due yet

    assert refund_sweep(now=later(1.5)) == 1  # the second attempt meets the outage too
    refund.refresh_from_db()
    assert (refund.status, refund.attempts) == (Refund.Status.PENDING, 2)
    assert refund.next_attempt_at - timezone.now() > first_wait  # waits longer each time

    assert refund_sweep(now=later(10)) == 1
    refund.refresh_from_db()
    assert (refund.status, refund.attempts) == (Refund.Status.SUCCEEDED, 3)
    assert refund.failure_message == ""
    # Three attempts asked Stripe (the first two met the outage); one created the refund.
    assert len(fake_stripe.calls("GET", "/v1/refunds")) == 3
    (call,) = fake_stripe.calls(*REFUNDS)
    assert call.headers["idempotency-key"] == refund.idempotency_key
    assert len(fake_stripe.refunds) == 1
    assert alerts() == []


def test_a_refund_stripe_refuses_fails_and_alerts_the_operators(fake_stripe, operators):
    refund = recorded_refund(fake_stripe)
    fake_stripe.fail_refunds = True

    assert refund_submit(refund_id=refund.pk).status == Refund.Status.FAILED

    refund.refresh_from_db()
    assert refund.attempts == 1 and "Declined" in refund.failure_message
    [subject] = alerts()
    assert f"Refund failed: {refund.order}" in subject
    [entry] = AuditEntry.objects.filter(action="refund.failed")
    assert entry.object_id == str(refund.pk) and "Declined" in entry.note
    assert refund_sweep(now=later(60)) == 0  # failed for good: staff retry it
    assert len(fake_stripe.calls(*REFUNDS)) == 1


def test_a_refund_that_never_gets_through_fails_after_the_last_attempt(fake_stripe, operators):
    refund = recorded_refund(fake_stripe)
    fake_stripe.unavailable = True
    Refund.objects.filter(pk=refund.pk).update(attempts=refund_service.REFUND_MAX_ATTEMPTS - 1)

    assert refund_submit(refund_id=refund.pk).status == Refund.Status.FAILED
    [subject] = alerts()
    assert "Refund failed" in subject
    assert (
        Notification.objects.get(kind=Notification.Kind.ADMIN_ALERT)
        .payload["context"]["message"]
        .count(f"{refund_service.REFUND_MAX_ATTEMPTS} attempts failed")
    )


def test_two_workers_at_once_send_one_refund(on_postgres, transactional_db, fake_stripe):
    refund = recorded_refund(fake_stripe)
    start = threading.Barrier(6)
    results = []

    def worker():
        try:
            start.wait()
            results.append(refund_submit(refund_id=refund.pk).status)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(fake_stripe.calls(*REFUNDS)) == 1
    assert Refund.objects.get(pk=refund.pk).status == Refund.Status.SUCCEEDED
    assert len(results) == 6
