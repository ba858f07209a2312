"""POST /webhooks/stripe/: real signature checks, once-only processing, late payments."""

import copy
import hashlib
import hmac
import json
import logging
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from competitions.lifecycle import Status
from competitions.models import Competition
from tests.factories import UserFactory, active_competition
from tickets import payments
from tickets.models import Order, PaymentEvent, Refund, Ticket
from tickets.services.payment_events import EVENT_HANDLERS

from .conftest import completed_event, paid_event, post_event
from .helpers import reserve

pytestmark = pytest.mark.django_db


def sold_reserved(competition):
    fresh = Competition.objects.get(pk=competition.pk)
    return fresh.tickets_sold, fresh.tickets_reserved


@pytest.fixture
def pending(settings):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_fairdraw"
    competition = active_competition(max_tickets=100)
    order = reserve(UserFactory(), competition, quantity=2, numbers=[10])
    return competition, order


def test_valid_signature_turns_the_reservation_into_tickets(client, pending):
    competition, order = pending
    response = post_event(client, completed_event(order))

    assert response.status_code == 200
    assert response.json()["outcome"] == "paid"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.paid_at is not None
    assert order.stripe_payment_intent_id == f"pi_test_{order.pk}"
    assert set(order.tickets.values_list("status", flat=True)) == {Ticket.Status.ACTIVE}
    assert sold_reserved(competition) == (3, 0)
    event = PaymentEvent.objects.get()
    assert event.type == "checkout.session.completed"
    assert event.order == order
    assert event.processed_at is not None
    assert event.payload["data"]["object"]["metadata"]["order_id"] == str(order.pk)


def test_tampered_body_is_refused(client, pending):
    _, order = pending
    event = completed_event(order)
    tampered = json.dumps(event).replace('"amount_total": 750', '"amount_total": 1')
    response = post_event(client, event, body=tampered)
    assert response.status_code == 400
    assert not PaymentEvent.objects.exists()
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING


def test_stale_timestamp_is_refused(client, pending):
    _, order = pending
    response = post_event(client, completed_event(order), timestamp=int(time.time()) - 301)
    assert response.status_code == 400
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING


WEBHOOK_SECRET = "whsec_test_fairdraw"


def stripe_signature(payload: bytes, *, timestamp: int, secret: str = WEBHOOK_SECRET) -> str:
    """Stripe's scheme, written out: t=<ts>,v1=HMAC-SHA256(secret, "<ts>.<payload>")."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def post_signed(client, payload: bytes, *, timestamp: int | None = None):
    timestamp = int(time.time()) if timestamp is None else timestamp
    return client.post(
        "/webhooks/stripe/",
        data=payload,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=stripe_signature(payload, timestamp=timestamp),
    )


def assert_nothing_written(order):
    assert not PaymentEvent.objects.exists()
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
    assert not order.tickets.filter(status=Ticket.Status.ACTIVE).exists()


def test_a_correctly_signed_event_is_accepted(client, pending):
    _, order = pending
    response = post_signed(client, json.dumps(completed_event(order)).encode())
    assert response.status_code == 200
    assert response.json()["outcome"] == "paid"


@pytest.mark.parametrize("seconds", [-200, 200], ids=["200s-old", "200s-ahead"])
def test_a_signature_within_the_tolerance_either_way_is_accepted(client, pending, seconds):
    _, order = pending
    payload = json.dumps(completed_event(order)).encode()
    response = post_signed(client, payload, timestamp=int(time.time()) + seconds)
    assert response.status_code == 200
    assert response.json()["outcome"] == "paid"


@pytest.mark.parametrize(
    "seconds",
    [
        -(payments.WEBHOOK_TOLERANCE_SECONDS + 5),
        payments.WEBHOOK_TOLERANCE_SECONDS + 5,
        86_400,
    ],
    ids=["too-old", "too-far-ahead", "a-day-ahead"],
)
def test_a_signature_outside_the_tolerance_either_way_is_refused(client, pending, caplog, seconds):
    _, order = pending
    payload = json.dumps(completed_event(order)).encode()
    with caplog.at_level(logging.WARNING, logger="tickets.views"):
        response = post_signed(client, payload, timestamp=int(time.time()) + seconds)
    assert response.status_code == 400
    assert response.content == b"invalid signature"
    assert_nothing_written(order)
    assert "Webhook refused: invalid signature" in caplog.text


def _set(path: str, value):
    """A change to a valid event: set the dotted `path` to `value` (Ellipsis deletes it)."""

    def change(event):
        *parents, leaf = path.split(".")
        node = event
        for key in parents:
            node = node[key]
        if value is ...:
            del node[leaf]
        else:
            node[leaf] = value
        return event

    return change


def _retype(event_type: str, obj: dict):
    def change(event):
        event["type"] = event_type
        event["data"]["object"] = obj
        return event

    return change


ODD_BODIES = {
    # Not an event object at all.
    "not-json": lambda event: b"{not json",
    "not-utf8": lambda event: b'{"id": "evt_\xff\xfe"}',
    "json-list": lambda event: [event],
    "json-string": lambda event: "checkout.session.completed",
    "json-null": lambda event: None,
    "json-number": lambda event: 42,
    # The envelope.
    "no-id": _set("id", ...),
    "numeric-id": _set("id", 12345),
    "empty-id": _set("id", ""),
    "huge-id": _set("id", "evt_" + "x" * 300),
    "no-type": _set("type", ...),
    "type-not-text": _set("type", ["checkout.session.completed"]),
    "no-data": _set("data", ...),
    "data-null": _set("data", None),
    "data-list": _set("data", [{"object": {}}]),
    "no-data-object": _set("data.object", ...),
    "data-object-list": _set("data.object", []),
    "data-object-text": _set("data.object", "cs_test_1"),
    "unknown-type-data-list": lambda event: {"id": "evt_u", "type": "customer.created", "data": []},
    # A checkout session of another shape.
    "session-without-id": _set("data.object.id", ...),
    "metadata-list": _set("data.object.metadata", ["order_id"]),
    "order-id-number": _set("data.object.metadata.order_id", 1),
    "order-id-unicode-digits": _set("data.object.metadata.order_id", "\u00b2"),
    "order-id-overflows": _set("data.object.metadata.order_id", "9" * 30),
    "amount-text": _set("data.object.amount_total", "750"),
    "amount-float": _set("data.object.amount_total", 7.5),
    "amount-bool": _set("data.object.amount_total", True),
    "amount-negative": _set("data.object.amount_total", -750),
    "amount-overflows": _set("data.object.amount_total", 10**20),
    "expanded-payment-intent": _set("data.object.payment_intent", {"id": "pi_1"}),
    "payment-status-number": _set("data.object.payment_status", 1),
    "currency-object": _set("data.object.currency", {"code": "gbp"}),
    "client-reference-list": _set("data.object.client_reference_id", ["FD-1"]),
    # The other handled types.
    "expired-session-metadata-text": _retype(
        "checkout.session.expired", {"id": "cs_1", "metadata": "order 1"}
    ),
    "refund-amount-text": _retype(
        "charge.refunded", {"id": "ch_1", "payment_intent": "pi_1", "amount_refunded": "750"}
    ),
    "refund-flag-text": _retype(
        "charge.refunded", {"id": "ch_1", "payment_intent": "pi_1", "refunded": "yes"}
    ),
    "refund-intent-object": _retype("charge.refunded", {"id": "ch_1", "payment_intent": {}}),
    "decline-error-text": _retype(
        "payment_intent.payment_failed",
        {"id": "pi_1", "metadata": {}, "last_payment_error": "card_declined"},
    ),
    "decline-code-number": _retype(
        "payment_intent.payment_failed",
        {"id": "pi_1", "last_payment_error": {"decline_code": 51}},
    ),
}


@pytest.mark.parametrize("change", ODD_BODIES.values(), ids=ODD_BODIES.keys())
def test_a_signed_body_of_an_unexpected_shape_is_refused_with_nothing_written(
    client, pending, caplog, change
):
    _, order = pending
    body = change(copy.deepcopy(completed_event(order)))
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()

    with caplog.at_level(logging.WARNING, logger="tickets.views"):
        response = post_signed(client, payload)

    assert response.status_code == 400
    assert response.content == b"invalid payload"
    assert_nothing_written(order)
    assert "Webhook refused: invalid payload" in caplog.text


def test_every_handled_event_type_has_a_shape():
    assert set(payments.EVENT_SHAPES) == set(EVENT_HANDLERS)


def test_fields_we_do_not_read_may_be_anything(client, pending):
    _, order = pending
    event = completed_event(order)
    event["data"]["object"].update(
        customer_details={"email": "x@example.com", "address": None},
        payment_intent=None,  # sessions that need no payment have none
        metadata={"order_id": str(order.pk), "note": ""},
    )
    event["data"]["previous_attributes"] = {"status": "open"}
    response = post_signed(client, json.dumps(event).encode())
    assert response.status_code == 200


def test_wrong_secret_is_refused(client, pending):
    _, order = pending
    response = post_event(client, completed_event(order), secret="whsec_someone_else")
    assert response.status_code == 400
    assert not PaymentEvent.objects.exists()


def test_missing_signature_is_refused(client, pending):
    _, order = pending
    response = client.post(
        "/webhooks/stripe/",
        data=json.dumps(completed_event(order)),
        content_type="application/json",
    )
    assert response.status_code == 400


def test_webhook_only_accepts_post(client):
    assert client.get("/webhooks/stripe/").status_code == 405


def test_same_event_five_times_issues_tickets_once(client, pending):
    competition, order = pending
    event = completed_event(order)
    outcomes = [post_event(client, event).json()["outcome"] for _ in range(5)]

    assert outcomes[0] == "paid"
    assert all(o.startswith("duplicate event") for o in outcomes[1:])
    assert order.tickets.count() == 3
    assert sold_reserved(competition) == (3, 0)
    assert PaymentEvent.objects.count() == 1


def test_a_second_event_for_a_paid_order_creates_nothing(client, pending):
    competition, order = pending
    post_event(client, completed_event(order, event_id="evt_a"))
    response = post_event(client, completed_event(order, event_id="evt_b"))
    assert response.json()["outcome"] == "already paid"
    assert order.tickets.count() == 3
    assert sold_reserved(competition) == (3, 0)
    assert PaymentEvent.objects.count() == 2


def test_unknown_event_types_are_recorded_and_ignored(client):
    response = post_event(client, {"id": "evt_x", "type": "customer.created", "data": {}})
    assert response.json()["outcome"] == "ignored"
    assert PaymentEvent.objects.get().outcome == "ignored"


def test_session_expired_releases_the_numbers(client, pending):
    competition, order = pending
    event = {
        "id": "evt_exp",
        "type": "checkout.session.expired",
        "data": {"object": {"id": "cs_1", "metadata": {"order_id": str(order.pk)}}},
    }
    assert post_event(client, event).json()["outcome"] == "reservation released"
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED
    assert not order.tickets.exists()
    assert sold_reserved(competition) == (0, 0)


def lapse(order):
    Order.objects.filter(pk=order.pk).update(reserved_until=timezone.now() - timedelta(minutes=1))
    from tickets.services import reservations_release_expired

    assert reservations_release_expired() == 1


def test_late_payment_is_re_reserved_when_the_numbers_are_still_free(client, pending):
    competition, order = pending
    lapse(order)
    assert sold_reserved(competition) == (0, 0)

    response = post_event(client, completed_event(order))

    assert response.json()["outcome"] == "paid after the reservation lapsed"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    numbers = set(order.tickets.values_list("number", flat=True))
    assert 10 in numbers and len(numbers) == 3
    assert sold_reserved(competition) == (3, 0)


def test_late_payment_whose_numbers_were_sold_is_refunded_without_tickets(
    client, pending, fake_stripe, django_capture_on_commit_callbacks
):
    competition, order = pending
    lapse(order)
    rival = reserve(UserFactory(), competition, numbers=[10])
    post_event(client, paid_event(fake_stripe, rival, event_id="evt_rival"))

    with django_capture_on_commit_callbacks(execute=True):
        response = post_event(client, paid_event(fake_stripe, order, event_id="evt_late"))

    assert "refunded" in response.json()["outcome"]
    assert "10" in response.json()["outcome"]
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert order.amount_refunded == order.total
    assert not order.tickets.exists()
    assert sold_reserved(competition) == (1, 0)
    refund = Refund.objects.get(order=order)
    assert refund.reason == Refund.Reason.LATE_PAYMENT
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.amount == Decimal("7.50")
    (call,) = fake_stripe.calls("POST", "/v1/refunds")
    assert call.params["payment_intent"] == f"pi_test_{order.pk}"
    assert call.params["amount"] == "750"
    assert refund.provider_refund_id in fake_stripe.refunds


def test_late_lucky_dip_into_a_sold_out_competition_is_refunded(
    client, fake_stripe, django_capture_on_commit_callbacks
):
    competition = active_competition(max_tickets=3, max_tickets_per_user=3)
    order = reserve(UserFactory(), competition, quantity=3)
    lapse(order)
    rival = reserve(UserFactory(), competition, quantity=3)
    post_event(client, paid_event(fake_stripe, rival, event_id="evt_rival"))

    with django_capture_on_commit_callbacks(execute=True):
        post_event(client, paid_event(fake_stripe, order, event_id="evt_late"))

    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert not order.tickets.exists()
    assert sold_reserved(competition) == (3, 0)
    assert len(fake_stripe.calls("POST", "/v1/refunds")) == 1


def test_payment_for_a_drawn_competition_is_refunded(client, pending, fake_stripe):
    competition, order = pending
    Competition.objects.filter(pk=competition.pk).update(status=Status.DRAWN)
    post_event(client, paid_event(fake_stripe, order))
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert not order.tickets.exists()
    assert sold_reserved(competition) == (0, 0)


def test_amount_mismatch_is_refunded(client, pending, fake_stripe):
    competition, order = pending
    post_event(client, paid_event(fake_stripe, order, amount_pence=1))
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert Refund.objects.get().reason == Refund.Reason.PAYMENT_MISMATCH
    assert sold_reserved(competition) == (0, 0)


def test_charge_refunded_in_the_dashboard_refunds_the_tickets(client, pending):
    competition, order = pending
    post_event(client, completed_event(order))
    charge = {
        "id": "ch_1",
        "object": "charge",
        "payment_intent": f"pi_test_{order.pk}",
        "amount": 750,
        "amount_refunded": 750,
        "refunded": True,
    }
    event = {"id": "evt_ref", "type": "charge.refunded", "data": {"object": charge}}
    assert "tickets refunded" in post_event(client, event).json()["outcome"]
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert set(order.tickets.values_list("status", flat=True)) == {Ticket.Status.REFUNDED}
    assert sold_reserved(competition) == (0, 0)
    # Replayed, or our own refund echoed back: nothing more.
    event["id"] = "evt_ref_2"
    assert post_event(client, event).json()["outcome"] == "refund already recorded"
    assert Refund.objects.count() == 1
