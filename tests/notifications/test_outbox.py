"""The outbox API the domains build their messages with (notifications.outbox), and the rule
that keeps it generic: notifications imports no app above core."""

from decimal import Decimal
from pathlib import Path

import pytest
from django.db import transaction

from config.layers import LAYERS, import_graph
from notifications import outbox
from notifications.models import Notification
from tests.notifications.conftest import OPERATOR
from tests.notifications.helpers import customer

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
Kind = Notification.Kind
Channel = Notification.Channel


def test_notifications_imports_only_core():
    below = set(LAYERS[: LAYERS.index("notifications")])
    imported = {other for (app, other) in import_graph(ROOT) if app == "notifications"}
    assert imported <= below, f"notifications imports {sorted(imported - below)}"


def test_messages_for_channels_the_customer_cannot_receive_are_not_built():
    user = customer(consent=False, phone="")
    common = {"kind": Kind.ORDER_PLACED, "user": user, "key": "k"}
    assert outbox.sms_message(body="hi", **common) is None
    assert (
        outbox.klaviyo_message(metric="M", properties={}, value=None, time=None, **common) is None
    )


def test_enqueue_skips_what_was_not_built_and_writes_the_rest_once():
    user = customer(consent=False)
    email = outbox.email_message(
        kind=Kind.ORDER_PLACED,
        recipient=user.email,
        user=user,
        subject="Hello",
        template="order_placed",
        context={"first_name": "Sarah"},
        key="hello-email",
    )
    sms = outbox.sms_message(kind=Kind.ORDER_PLACED, user=user, body="Hello", key="hello-sms")
    klaviyo = outbox.klaviyo_message(
        kind=Kind.ORDER_PLACED,
        user=user,
        metric="Hello",
        properties={},
        value=Decimal("1.50"),
        time=None,
        key="hello-klaviyo",
    )
    with transaction.atomic():
        outbox.enqueue([email, sms, klaviyo])
        outbox.enqueue([email])
    stored = Notification.objects.order_by("pk")
    assert [(n.channel, n.idempotency_key) for n in stored] == [
        (Channel.EMAIL, "hello-email"),
        (Channel.SMS, "hello-sms"),
    ]
    assert stored[0].payload == {
        "subject": "Hello",
        "template": "order_placed",
        "context": {"first_name": "Sarah"},
    }


def test_profile_message_carries_the_klaviyo_profile_whatever_the_consent():
    user = customer(consent=False, phone="07700 900123")
    message = outbox.profile_message(user=user, subscribed=False, key="p")
    assert (message.kind, message.channel, message.recipient) == (
        Kind.PROFILE_UPDATED,
        Channel.KLAVIYO,
        user.email,
    )
    assert message.payload["subscribed"] is False
    assert message.payload["profile"]["phone_number"] == "+447700900123"


def test_admin_alert_goes_to_each_operator():
    outbox.admin_alert(subject="Hello", message="World", key="hello")
    (alert,) = Notification.objects.filter(kind=Kind.ADMIN_ALERT)
    assert alert.recipient == OPERATOR
    assert alert.payload["subject"] == "[Fairdraw] Hello"
    assert alert.idempotency_key == f"admin-hello-{OPERATOR}"


def test_money_and_links_as_customers_read_them(settings):
    assert outbox.money(Decimal("1234.5"), "GBP") == "£1,234.50"
    assert outbox.money(Decimal("2"), "CHF") == "CHF 2.00"
    assert outbox.absolute_url("/account/") == "https://fairdraw.example/account/"
    assert outbox.absolute_url("https://cdn.example/x.jpg") == "https://cdn.example/x.jpg"
    assert outbox.local_time(None) == ""
