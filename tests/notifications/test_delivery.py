"""Sending the outbox through the real Klaviyo and Twilio SDKs against local fake servers:
each message once, retried with back-off when the provider fails, failed and reported when
retrying cannot help."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from accounts import events as account_events
from notifications.models import Notification
from notifications.outbox import admin_alert
from notifications.services import (
    notification_enqueue,
    notification_enqueue_many,
    notification_send,
    notification_sweep,
)
from tests.fakes.twilio_server import INVALID_NUMBER
from tests.notifications.conftest import OPERATOR
from tests.notifications.helpers import competition, customer, outbox, paid_order, winner
from tickets import events as ticket_events
from winners import events as winner_events

pytestmark = pytest.mark.django_db

Kind = Notification.Kind
Channel = Notification.Channel
Status = Notification.Status


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run the on-commit dispatch (eager Celery in tests) as a real commit would."""

    def run(event, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            event(*args, **kwargs)

    return run


def klaviyo_event(user, key="order-placed-1-klaviyo", metric="Order Placed"):
    return notification_enqueue(
        kind=Kind.ORDER_PLACED,
        channel=Channel.KLAVIYO,
        recipient=user.email,
        user=user,
        payload={
            "metric": metric,
            "profile": {"email": user.email},
            "properties": {"OrderID": "FD-TEST"},
            "value": 5.0,
            "value_currency": "GBP",
            "time": timezone.now().isoformat(),
            "unique_id": key,
        },
        idempotency_key=key,
    )


# --- the right request for each event -------------------------------------------------------


def test_order_placed_reaches_klaviyo_twilio_and_email(committed, fake_klaviyo, fake_twilio):
    user = customer()
    order = paid_order(user, (competition(title="Win a Porsche 911", slug="porsche"), [3, 7], True))

    committed(ticket_events.order_placed, order)

    assert {n.status for n in outbox()} == {Status.SENT}
    placed, entered = fake_klaviyo.events()
    attributes = placed["data"]["attributes"]
    assert placed["data"]["type"] == "event"
    assert attributes["metric"] == {
        "data": {"type": "metric", "attributes": {"name": "Order Placed"}}
    }
    assert attributes["profile"]["data"]["attributes"]["email"] == "sarah.khan@example.com"
    assert attributes["profile"]["data"]["attributes"]["phone_number"] == "+447700900123"
    assert attributes["value"] == 5.0
    assert attributes["value_currency"] == "GBP"
    assert attributes["unique_id"] == f"order-placed-{order.pk}-klaviyo"
    assert attributes["properties"]["OrderID"] == order.reference
    assert attributes["properties"]["Items"][0]["TicketNumbers"] == [3, 7]
    entered_attributes = entered["data"]["attributes"]
    assert entered_attributes["metric"]["data"]["attributes"]["name"] == "Competition Entered"
    assert entered_attributes["properties"]["CompetitionName"] == "Win a Porsche 911"
    assert entered_attributes["properties"]["TicketNumbers"] == [3, 7]

    request = fake_klaviyo.requests[0]
    assert request.path == "/api/events"
    assert request.headers["authorization"] == "Klaviyo-API-Key pk_test_fairdraw"
    assert request.headers["revision"]

    (text,) = fake_twilio.messages()
    assert text["To"] == "+447700900123"
    assert text["From"] == "+447700900000"
    assert order.reference in text["Body"]
    assert fake_twilio.requests[0].path == f"/2010-04-01/Accounts/AC{'1' * 32}/Messages.json"
    sms = Notification.objects.get(channel=Channel.SMS)
    assert sms.provider_message_id.startswith("SM")

    (email,) = mail.outbox
    assert email.to == [user.email]
    assert email.subject == f"Your Fairdraw order {order.reference} is confirmed"
    assert "#3, #7" in email.body
    assert email.alternatives and "<strong>#3</strong>" in email.alternatives[0][0]
    assert (
        Notification.objects.get(channel=Channel.EMAIL).provider_message_id
        == email.extra_headers["Message-ID"]
    )


@pytest.mark.parametrize(
    ("event", "metric"),
    [
        ("checkout_started", "Checkout Started"),
        ("winner_announced", "Winner Announced"),
        ("prize_delivered", "Prize Delivered"),
    ],
)
def test_each_klaviyo_event_arrives_with_its_metric(committed, fake_klaviyo, event, metric):
    user = customer(phone="")
    if event == "checkout_started":
        subject = paid_order(user, (competition(title="Win a Rolex"), [9], True), status="pending")
    else:
        subject = winner(user, delivered=True)

    send = {
        "checkout_started": ticket_events.checkout_started,
        "winner_announced": winner_events.winner_announced,
        "prize_delivered": winner_events.prize_delivered,
    }[event]
    committed(send, subject)

    (body,) = fake_klaviyo.events()
    attributes = body["data"]["attributes"]
    assert attributes["metric"]["data"]["attributes"]["name"] == metric
    assert attributes["profile"]["data"]["attributes"]["email"] == user.email
    assert (
        attributes["unique_id"] == Notification.objects.get(channel=Channel.KLAVIYO).idempotency_key
    )
    if event == "checkout_started":
        assert attributes["properties"]["Items"][0]["ProductName"] == "Win a Rolex"
        assert attributes["properties"]["Items"][0]["TicketNumbers"] == [9]
    else:
        assert attributes["properties"]["PrizeName"] == "Tesla Model 3"
        assert attributes["properties"]["TicketNumber"] == 42
        assert attributes["value"] == 40000.0


def test_consent_given_subscribes_the_profile(committed, fake_klaviyo, settings):
    settings.KLAVIYO_LIST_ID = "LiSt42"
    user = customer(consent=True)
    committed(account_events.profile_updated, user)

    upsert, subscribe = fake_klaviyo.requests
    assert upsert.path == "/api/profile-import"
    assert upsert.json()["data"]["attributes"]["email"] == user.email
    assert subscribe.path == "/api/profile-subscription-bulk-create-jobs"
    job = subscribe.json()["data"]
    (profile,) = job["attributes"]["profiles"]["data"]
    assert profile["attributes"]["subscriptions"] == {
        "email": {"marketing": {"consent": "SUBSCRIBED"}}
    }
    assert job["relationships"]["list"]["data"]["id"] == "LiSt42"
    notification = Notification.objects.get()
    assert notification.status == Status.SENT
    assert notification.provider_message_id.startswith("01FAKEPROFILE")


def test_consent_withdrawn_unsubscribes_email_and_sms(committed, fake_klaviyo):
    user = customer(consent=False)
    committed(account_events.profile_updated, user)

    _upsert, unsubscribe = fake_klaviyo.requests
    assert unsubscribe.path == "/api/profile-subscription-bulk-delete-jobs"
    (profile,) = unsubscribe.json()["data"]["attributes"]["profiles"]["data"]
    assert profile["attributes"]["email"] == user.email
    assert profile["attributes"]["phone_number"] == "+447700900123"
    assert profile["attributes"]["subscriptions"] == {
        "email": {"marketing": {"consent": "UNSUBSCRIBED"}},
        "sms": {"marketing": {"consent": "UNSUBSCRIBED"}},
    }


def test_no_consent_nothing_reaches_klaviyo(committed, fake_klaviyo, fake_twilio):
    order = paid_order(customer(consent=False), (competition(), [1], True))
    committed(ticket_events.checkout_started, order)
    committed(ticket_events.order_placed, order)
    assert fake_klaviyo.requests == []
    assert len(fake_twilio.messages()) == 1
    assert len(mail.outbox) == 1


# --- retries, failures, exactly once ---------------------------------------------------------


def test_provider_500_then_200_is_sent_once_after_a_retry(committed, fake_klaviyo):
    fake_klaviyo.script(500)
    committed(klaviyo_event, customer())

    notification = Notification.objects.get()
    assert notification.status == Status.PENDING
    assert notification.attempts == 1
    assert "Klaviyo 500" in notification.last_error
    wait = notification.next_attempt_at - timezone.now()
    assert timedelta(seconds=50) < wait <= timedelta(seconds=60)  # 30 s * 2**1

    assert notification_sweep() == 0  # not due yet
    assert notification_sweep(now=notification.next_attempt_at + timedelta(seconds=1)) == 1

    notification.refresh_from_db()
    assert notification.status == Status.SENT
    assert notification.attempts == 2
    assert notification.last_error == ""
    assert len(fake_klaviyo.events()) == 2  # the failed try and the one that worked
    assert notification_sweep(now=timezone.now() + timedelta(days=1)) == 0
    assert len(fake_klaviyo.events()) == 2
    assert not Notification.objects.filter(kind=Kind.ADMIN_ALERT).exists()


def test_twilio_500_then_201_is_sent_once_after_a_retry(committed, fake_twilio):
    fake_twilio.script(500)
    order = paid_order(customer(consent=False), (competition(), [1], True))
    committed(ticket_events.order_placed, order)
    sms = Notification.objects.get(channel=Channel.SMS)
    assert (sms.status, sms.attempts) == (Status.PENDING, 1)
    assert "Twilio 500" in sms.last_error

    notification_sweep(now=sms.next_attempt_at)

    sms.refresh_from_db()
    assert (sms.status, sms.attempts) == (Status.SENT, 2)
    assert len(fake_twilio.messages()) == 2


def test_klaviyo_4xx_fails_with_the_error_and_alerts_the_operators(committed, fake_klaviyo):
    fake_klaviyo.script(400)
    committed(klaviyo_event, customer())

    notification = Notification.objects.get(channel=Channel.KLAVIYO)
    assert notification.status == Status.FAILED
    assert notification.attempts == 1
    assert notification.last_error == (
        "Klaviyo 400: The phone number provided either does not exist or is ineligible to "
        "receive SMS"
    )
    assert notification.next_attempt_at is None

    alert = Notification.objects.get(kind=Kind.ADMIN_ALERT)
    assert alert.recipient == OPERATOR
    assert alert.status == Status.SENT
    (email,) = mail.outbox
    assert email.to == [OPERATOR]
    assert "Notification failed: Order Placed (Klaviyo event)" in email.subject
    assert "does not exist or is ineligible" in email.body

    assert notification_sweep(now=timezone.now() + timedelta(days=1)) == 0
    assert len(fake_klaviyo.requests) == 1


def test_twilio_invalid_number_fails_for_good(committed, fake_twilio):
    fake_twilio.script(INVALID_NUMBER)
    order = paid_order(customer(consent=False), (competition(), [1], True))
    committed(ticket_events.order_placed, order)

    sms = Notification.objects.get(channel=Channel.SMS)
    assert sms.status == Status.FAILED
    assert "Twilio 400 (error 21211)" in sms.last_error
    assert "is not a valid phone number" in sms.last_error
    assert Notification.objects.filter(kind=Kind.ADMIN_ALERT, recipient=OPERATOR).exists()


def test_an_invalid_number_never_reaches_the_provider(committed, fake_twilio):
    order = paid_order(customer(consent=False, phone="0770 12"), (competition(), [1], True))
    committed(ticket_events.order_placed, order)
    sms = Notification.objects.get(channel=Channel.SMS)
    assert sms.status == Status.FAILED
    assert sms.last_error.startswith("Invalid phone number '0770 12'")
    assert fake_twilio.requests == []


def test_the_same_notification_enqueued_twice_is_sent_once(committed, fake_klaviyo):
    user = customer()
    committed(klaviyo_event, user)
    committed(klaviyo_event, user)
    assert Notification.objects.count() == 1
    assert len(fake_klaviyo.events()) == 1


def test_messages_queued_together_are_each_sent_once(committed, fake_klaviyo):
    """One statement writes a batch (a sale writes its confirmation under the competitions'
    locks): a key already in the outbox, or given twice, is still one message."""
    user = customer()
    committed(klaviyo_event, user, key="order-placed-1-klaviyo")
    already = Notification.objects.get()

    def email(key, subject):
        return Notification(
            kind=Kind.ORDER_PLACED,
            channel=Channel.EMAIL,
            recipient=user.email,
            user=user,
            payload={"subject": subject, "template": "order_placed", "context": {}},
            idempotency_key=key,
        )

    batch = [
        email("order-placed-1-klaviyo", "ignored: the key is taken"),
        email("order-placed-1-email", "first"),
        email("order-placed-1-email", "ignored: given twice"),
    ]
    stored = []
    committed(lambda: stored.extend(notification_enqueue_many(batch)))

    assert [n.pk for n in stored] == [already.pk, stored[1].pk, stored[1].pk]
    assert Notification.objects.count() == 2
    assert stored[1].payload["subject"] == "first"
    assert Notification.objects.get(pk=stored[1].pk).status == Status.SENT
    assert [m.subject for m in mail.outbox] == ["first"]
    assert len(fake_klaviyo.events()) == 1


def test_a_second_task_for_the_same_entry_sends_nothing(committed, fake_klaviyo):
    committed(klaviyo_event, customer())
    notification = Notification.objects.get()
    assert notification_send(notification_id=notification.pk) == "not pending"
    assert len(fake_klaviyo.events()) == 1


def test_an_entry_being_sent_cannot_be_claimed_again(fake_klaviyo):
    notification = klaviyo_event(customer())
    Notification.objects.filter(pk=notification.pk).update(
        status=Status.SENDING, claimed_at=timezone.now(), attempts=1
    )
    assert notification_send(notification_id=notification.pk) == "not pending"
    assert fake_klaviyo.requests == []


def test_retries_stop_after_the_last_attempt(committed, fake_klaviyo, settings):
    settings.NOTIFICATIONS_MAX_ATTEMPTS = 3
    fake_klaviyo.script(503, 503, 503)
    committed(klaviyo_event, customer())
    notification = Notification.objects.get(channel=Channel.KLAVIYO)
    delays = []
    for _ in range(2):
        notification.refresh_from_db()
        delays.append(notification.next_attempt_at - timezone.now())
        notification_sweep(now=notification.next_attempt_at)
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == (Status.FAILED, 3)
    assert delays[1] > delays[0] * 1.9  # exponential back-off
    assert Notification.objects.filter(kind=Kind.ADMIN_ALERT).count() == 1
    assert len(fake_klaviyo.events()) == 3


def test_klaviyo_unreachable_is_retried(committed, settings):
    settings.NOTIFICATIONS_KLAVIYO_BACKEND = "klaviyo"
    settings.KLAVIYO_PRIVATE_API_KEY = "pk_test"
    settings.KLAVIYO_API_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    committed(klaviyo_event, customer())
    notification = Notification.objects.get()
    assert notification.status == Status.PENDING
    assert "Klaviyo unreachable" in notification.last_error


def test_failing_admin_alerts_do_not_alert_about_themselves(committed, settings):
    settings.EMAIL_BACKEND = "tests.notifications.test_delivery.RefusingEmailBackend"
    committed(admin_alert, subject="Sold out", message="All gone", key="sold-out-1")
    alert = Notification.objects.get()
    assert alert.status == Status.FAILED
    assert "Recipient refused" in alert.last_error
    assert Notification.objects.count() == 1


class RefusingEmailBackend:
    def __init__(self, **kwargs):
        pass

    def send_messages(self, messages):
        import smtplib

        raise smtplib.SMTPRecipientsRefused({OPERATOR: (550, b"No such user")})


# --- console backends, the sweeper ------------------------------------------------------------


def test_console_backends_log_and_mark_sent(committed, console_backends, caplog):
    caplog.set_level("INFO", logger="notifications")
    user = customer()
    order = paid_order(user, (competition(title="Win a Rolex"), [5], True))
    committed(ticket_events.order_placed, order)
    committed(account_events.profile_updated, user)

    assert {n.status for n in outbox()} == {Status.SENT}
    sms = Notification.objects.get(channel=Channel.SMS)
    assert sms.provider_message_id == f"console-sms-{sms.pk}"
    assert "SMS to +447700900123: Fairdraw: thanks Sarah!" in caplog.text
    assert "Klaviyo event 'Order Placed' for sarah.khan@example.com" in caplog.text
    assert "Klaviyo profile subscribed" in caplog.text


def test_auto_backends_use_console_without_credentials(committed, settings, caplog):
    settings.KLAVIYO_PRIVATE_API_KEY = ""
    settings.TWILIO_ACCOUNT_SID = ""
    caplog.set_level("INFO", logger="notifications")
    committed(winner_events.winner_announced, winner(customer()))
    assert {n.status for n in outbox()} == {Status.SENT}
    assert "Klaviyo event 'Winner Announced'" in caplog.text


def test_a_forced_provider_without_credentials_says_not_enabled(committed, settings):
    settings.NOTIFICATIONS_SMS_BACKEND = "twilio"
    settings.TWILIO_ACCOUNT_SID = ""
    committed(winner_events.winner_announced, winner(customer(consent=False)))
    sms = Notification.objects.get(channel=Channel.SMS)
    assert sms.status == Status.FAILED
    assert sms.last_error.startswith("Twilio is not enabled")


def test_sweeper_takes_back_a_claim_from_a_dead_worker(console_backends, settings):
    notification = klaviyo_event(customer())
    claimed = timezone.now() - settings.NOTIFICATIONS_SENDING_TIMEOUT - timedelta(seconds=1)
    Notification.objects.filter(pk=notification.pk).update(
        status=Status.SENDING, claimed_at=claimed, attempts=1
    )

    notification_sweep()
    notification.refresh_from_db()
    assert notification.status == Status.PENDING
    assert "worker probably stopped" in notification.last_error

    notification_sweep(now=notification.next_attempt_at)
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == (Status.SENT, 2)


def test_sweeper_leaves_a_fresh_claim_alone(console_backends):
    notification = klaviyo_event(customer())
    Notification.objects.filter(pk=notification.pk).update(
        status=Status.SENDING, claimed_at=timezone.now(), attempts=1
    )
    notification_sweep()
    notification.refresh_from_db()
    assert notification.status == Status.SENDING


def test_sweeper_sends_what_the_broker_never_got(console_backends):
    # No on-commit dispatch here: as if the broker was down when the order committed.
    notification = klaviyo_event(customer())
    assert notification_sweep() == 0  # the dispatch may still be on its way
    assert notification_sweep(now=timezone.now() + timedelta(minutes=3)) == 1
    notification.refresh_from_db()
    assert notification.status == Status.SENT


def test_broker_down_at_commit_leaves_the_entry_for_the_sweeper(
    django_capture_on_commit_callbacks, monkeypatch, console_backends
):
    from kombu.exceptions import OperationalError

    from notifications import tasks

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.send_notification, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        order = paid_order(customer(consent=False), (competition(), [1], True))
        ticket_events.order_refunded(order, amount=Decimal("2.50"), reason="Cancelled.")
    assert Notification.objects.get().status == Status.PENDING


# --- consent is read again when sending ------------------------------------------------------


def test_a_queued_marketing_event_is_dropped_when_consent_is_withdrawn(fake_klaviyo):
    user = customer(consent=True)
    notification = klaviyo_event(user)  # queued, not yet sent
    user.marketing_consent = False
    user.save()

    assert notification_send(notification_id=notification.pk) == Status.FAILED

    notification.refresh_from_db()
    assert notification.last_error == "Not sent: the customer has withdrawn marketing consent."
    assert fake_klaviyo.requests == []
    assert not Notification.objects.filter(kind=Kind.ADMIN_ALERT).exists()


def test_a_late_retry_of_a_subscribe_cannot_undo_a_withdrawal(committed, fake_klaviyo):
    user = customer(consent=True)
    fake_klaviyo.script(500)
    committed(account_events.profile_updated, user)  # the subscribe fails and waits for a retry
    subscribe = Notification.objects.get()
    assert subscribe.status == Status.PENDING

    user.marketing_consent, user.marketing_consent_at = False, None
    user.save()
    committed(account_events.profile_updated, user)  # the withdrawal goes through at once
    notification_sweep(now=subscribe.next_attempt_at)  # then the old subscribe is retried

    paths = [r.path for r in fake_klaviyo.requests]
    assert "/api/profile-subscription-bulk-create-jobs" not in paths
    assert paths.count("/api/profile-subscription-bulk-delete-jobs") == 2
    subscribe.refresh_from_db()
    assert (subscribe.status, subscribe.payload["subscribed"]) == (Status.SENT, False)
