"""The outbox in the back-office: filter, read the provider's error, send again."""

import pytest
from django.urls import reverse

from core.models import AuditEntry
from notifications.models import Notification
from notifications.services import notification_retry

pytestmark = pytest.mark.django_db

Status = Notification.Status
CHANGELIST = "admin:notifications_notification_changelist"


def entry(key, **kw):
    fields = {
        "kind": Notification.Kind.ORDER_PLACED,
        "channel": Notification.Channel.SMS,
        "recipient": "+447700900123",
        "payload": {"body": "Fairdraw: your order is confirmed."},
        "idempotency_key": key,
    }
    return Notification.objects.create(**{**fields, **kw})


@pytest.fixture
def failed():
    return entry(
        "failed-sms",
        status=Status.FAILED,
        attempts=1,
        last_error="Twilio 400 (error 21211): The 'To' number is not a valid phone number.",
    )


def test_list_filters_by_status_and_shows_the_provider_error(admin_client, failed):
    entry("sent-sms", status=Status.SENT, sent_at=failed.created_at)
    html = admin_client.get(reverse(CHANGELIST), {"status__exact": "failed"}).content.decode()
    assert "error 21211" in html
    assert "failed-sms" not in html  # the key is not a column; the row is there by its error
    assert html.count('name="_selected_action"') == 1
    for lookup in ("channel__exact=sms", "kind__exact=order_placed", "q=21211"):
        response = admin_client.get(reverse(CHANGELIST) + "?" + lookup)
        assert response.status_code == 200


def test_retry_now_sends_a_failed_entry_again(
    admin_client, failed, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFICATIONS_SMS_BACKEND = "console"
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse(CHANGELIST),
            {"action": "retry_now", "_selected_action": [failed.pk]},
            follow=True,
        )
    assert "1 notification(s) queued to send again." in response.content.decode()
    failed.refresh_from_db()
    assert failed.status == Status.SENT
    assert failed.attempts == 1  # a fresh start, then one successful attempt

    entry = AuditEntry.objects.get(action="notification.retry", object_id=str(failed.pk))
    assert entry.before["status"] == Status.FAILED and entry.after["status"] == Status.PENDING


def test_retry_skips_what_was_sent(admin_client):
    sent = entry("sent", status=Status.SENT, sent_at="2026-01-01T00:00:00Z")
    response = admin_client.post(
        reverse(CHANGELIST), {"action": "retry_now", "_selected_action": [sent.pk]}, follow=True
    )
    assert "1 notification(s) skipped" in response.content.decode()
    sent.refresh_from_db()
    assert sent.status == Status.SENT


def test_retry_needs_change_permission(client, failed, django_user_model):
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user(
        email="viewer@fairdraw.example", password="pw", first_name="V", is_staff=True
    )
    viewer.user_permissions.add(Permission.objects.get(codename="view_notification"))
    client.force_login(viewer)
    page = client.get(reverse(CHANGELIST)).content.decode()
    assert "retry_now" not in page
    client.post(reverse(CHANGELIST), {"action": "retry_now", "_selected_action": [failed.pk]})
    failed.refresh_from_db()
    assert failed.status == Status.FAILED


def test_retry_service_restarts_attempts_of_a_failed_entry(failed):
    assert notification_retry(notification=failed) is True
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.next_attempt_at) == (Status.PENDING, 0, None)


def test_retry_service_audits_itself_and_only_a_real_retry(failed, django_user_model):
    staff = django_user_model.objects.create_user(
        email="ops@fairdraw.example", password="pw", first_name="O", is_staff=True
    )
    assert notification_retry(notification=failed, by=staff) is True
    entry = AuditEntry.objects.get(action="notification.retry", object_id=str(failed.pk))
    assert entry.actor == staff and entry.before["status"] == Status.FAILED
    Notification.objects.filter(pk=failed.pk).update(status=Status.SENDING)
    failed.refresh_from_db()
    assert notification_retry(notification=failed, by=staff) is False
    assert AuditEntry.objects.filter(action="notification.retry").count() == 1
