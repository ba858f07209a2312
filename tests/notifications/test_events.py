"""Which messages each domain's events (tickets, winners, draws, competitions, accounts) write
to the outbox, with what payload, for whom."""

from decimal import Decimal

import pytest

from accounts import events as account_events
from competitions import events as competition_events
from draws import events as draw_events
from notifications.models import Notification
from tests.notifications.conftest import OPERATOR
from tests.notifications.helpers import competition, customer, outbox, paid_order, winner
from tickets import events as ticket_events
from winners import events as winner_events

pytestmark = pytest.mark.django_db

Kind = Notification.Kind
Channel = Notification.Channel


def test_order_placed_writes_confirmation_email_sms_and_klaviyo_events():
    user = customer()
    car = competition(title="Win a Porsche 911", slug="porsche")
    cash = competition(title="£5,000 Tax Free", slug="cash", ticket_price=Decimal("0.99"))
    order = paid_order(user, (car, [7, 3], True), (cash, [12], True))

    ticket_events.order_placed(order)

    email, sms, placed, *entered = outbox()
    assert (email.channel, email.kind, email.recipient) == ("email", Kind.ORDER_PLACED, user.email)
    assert email.payload["template"] == "order_placed"
    assert email.payload["subject"] == f"Your Fairdraw order {order.reference} is confirmed"
    lines = email.payload["context"]["lines"]
    assert [(line["competition"], line["ticket_numbers"]) for line in lines] == [
        ("Win a Porsche 911", [3, 7]),
        ("£5,000 Tax Free", [12]),
    ]
    assert email.payload["context"]["total"] == "£5.99"

    assert (sms.channel, sms.recipient) == ("sms", "07700 900123")
    assert "Win a Porsche 911 #3, #7" in sms.payload["body"]
    assert order.reference in sms.payload["body"]

    assert placed.payload["metric"] == "Order Placed"
    assert placed.payload["value"] == 5.99
    assert placed.payload["unique_id"] == placed.idempotency_key
    assert placed.payload["profile"] == {
        "email": "sarah.khan@example.com",
        "external_id": str(user.pk),
        "first_name": "Sarah",
        "last_name": "Khan",
        "phone_number": "+447700900123",
    }
    properties = placed.payload["properties"]
    assert properties["OrderID"] == order.reference
    assert properties["ItemNames"] == ["Win a Porsche 911", "£5,000 Tax Free"]
    assert properties["TicketCount"] == 3
    assert properties["Items"][0] == {
        "ProductID": car.pk,
        "ProductName": "Win a Porsche 911",
        "ProductURL": "https://fairdraw.example/competitions/porsche/",
        "ImageURL": "",
        "Quantity": 2,
        "ItemPrice": 2.5,
        "RowTotal": 5.0,
        "TicketNumbers": [3, 7],
        "AnsweredCorrectly": True,
        "DrawAt": car.draw_at.isoformat(),
    }

    assert [e.kind for e in entered] == [Kind.COMPETITION_ENTERED] * 2
    assert [e.payload["metric"] for e in entered] == ["Competition Entered"] * 2
    first = entered[0].payload
    assert first["properties"]["CompetitionName"] == "Win a Porsche 911"
    assert first["properties"]["CompetitionURL"] == "https://fairdraw.example/competitions/porsche/"
    assert first["properties"]["TicketNumbers"] == [3, 7]
    assert first["properties"]["OrderID"] == order.reference
    assert first["value"] == 5.0
    assert entered[1].payload["properties"]["TicketNumbers"] == [12]


def test_marketing_events_need_consent_transactional_messages_do_not():
    user = customer(consent=False)
    order = paid_order(user, (competition(), [1], True))

    ticket_events.checkout_started(order)
    ticket_events.order_placed(order)

    assert [(n.channel, n.kind) for n in outbox()] == [
        ("email", Kind.ORDER_PLACED),
        ("sms", Kind.ORDER_PLACED),
    ]


def test_no_phone_no_text():
    order = paid_order(customer(phone=""), (competition(), [1], True))
    ticket_events.order_placed(order)
    assert Notification.objects.filter(channel=Channel.SMS).count() == 0


def test_wrong_answer_is_told_in_the_confirmation():
    order = paid_order(customer(), (competition(), [4], False))
    ticket_events.order_placed(order)
    email = Notification.objects.get(channel=Channel.EMAIL)
    assert email.payload["context"]["lines"][0]["answered_correctly"] is False
    entered = Notification.objects.get(kind=Kind.COMPETITION_ENTERED)
    assert entered.payload["properties"]["AnsweredCorrectly"] is False


def test_the_same_event_twice_is_one_set_of_messages():
    order = paid_order(customer(), (competition(), [1, 2], True))
    ticket_events.order_placed(order)
    ticket_events.order_placed(order)
    assert Notification.objects.count() == 4  # e-mail, SMS, Order Placed, Competition Entered


def test_checkout_started_is_a_klaviyo_event_with_the_cart():
    user = customer()
    order = paid_order(user, (competition(title="Win a Rolex"), [5], True), status="pending")
    ticket_events.checkout_started(order)
    (started,) = outbox()
    assert (started.channel, started.kind) == ("klaviyo", Kind.CHECKOUT_STARTED)
    assert started.payload["metric"] == "Checkout Started"
    assert started.payload["properties"]["ItemNames"] == ["Win a Rolex"]
    assert started.payload["properties"]["CheckoutURL"] == "https://fairdraw.example/checkout/"
    assert started.payload["value"] == 2.5


def test_order_refunded_emails_the_customer_once_per_refund():
    order = paid_order(customer(), (competition(), [1, 2], True))
    ticket_events.order_refunded(
        order, amount=Decimal("2.50"), reason="The competition was cancelled."
    )
    ticket_events.order_refunded(
        order, amount=Decimal("2.50"), reason="The competition was cancelled."
    )
    order.amount_refunded = Decimal("2.50")
    ticket_events.order_refunded(order, amount=Decimal("2.50"), reason="You asked for a refund.")
    first, second = outbox()
    assert (first.channel, first.kind) == ("email", Kind.ORDER_REFUNDED)
    assert first.payload["subject"] == f"Refund of £2.50 for order {order.reference}"
    assert first.payload["context"]["reason"] == "The competition was cancelled."
    assert second.payload["context"]["reason"] == "You asked for a refund."


def test_winner_announced_tells_the_winner_everywhere():
    user = customer()
    won = winner(user)
    winner_events.winner_announced(won)
    email, klaviyo, sms = outbox()
    assert email.payload["template"] == "winner"
    assert email.payload["context"]["ticket_number"] == 42
    assert email.payload["context"]["draw_url"] == (
        "https://fairdraw.example/competitions/win-a-tesla-model-3/draw/"
    )
    assert klaviyo.payload["metric"] == "Winner Announced"
    assert klaviyo.payload["properties"]["PrizeName"] == "Tesla Model 3"
    assert klaviyo.payload["properties"]["TicketNumber"] == 42
    assert klaviyo.payload["value"] == 40000.0
    assert "Ticket #42 won Tesla Model 3" in sms.payload["body"]


def test_winner_without_consent_still_gets_email_and_text():
    winner_events.winner_announced(winner(customer(consent=False)))
    assert [n.channel for n in outbox()] == ["email", "sms"]


def test_prize_delivered_emails_and_tracks():
    won = winner(customer(), delivered=True)
    winner_events.prize_delivered(won)
    email, klaviyo = outbox()
    assert email.payload["template"] == "prize_delivered"
    assert klaviyo.payload["metric"] == "Prize Delivered"
    assert klaviyo.payload["properties"]["DeliveredAt"] == won.prize_delivered_at.isoformat()


def test_profile_updated_carries_the_consent_both_ways():
    user = customer(consent=True)
    account_events.profile_updated(user)
    user.marketing_consent, user.marketing_consent_at = False, None
    account_events.profile_updated(user)
    subscribe, unsubscribe = outbox(kind=Kind.PROFILE_UPDATED)
    assert subscribe.payload["subscribed"] is True
    assert unsubscribe.payload["subscribed"] is False
    assert unsubscribe.payload["profile"]["email"] == user.email


def test_invalid_phone_is_left_out_of_the_klaviyo_profile():
    order = paid_order(customer(phone="12345"), (competition(), [1], True))
    ticket_events.order_placed(order)
    placed = Notification.objects.get(kind=Kind.ORDER_PLACED, channel=Channel.KLAVIYO)
    assert "phone_number" not in placed.payload["profile"]


def test_admin_alerts_go_to_every_operator_once_per_key(settings):
    settings.ADMINS = [("Ops", OPERATOR), ("CTO", "cto@fairdraw.example")]
    comp = competition(title="Win a Rolex")
    competition_events.sold_out(comp)
    competition_events.sold_out(comp)
    alerts = outbox(kind=Kind.ADMIN_ALERT)
    assert sorted(a.recipient for a in alerts) == ["cto@fairdraw.example", OPERATOR]
    assert alerts[0].payload["subject"] == "[Fairdraw] Sold out: Win a Rolex"


def test_draw_failed_alerts_once_per_error():
    comp = competition(title="Win a Rolex")
    draw_events.draw_failed(comp, error="lock timeout")
    draw_events.draw_failed(comp, error="lock timeout")
    draw_events.draw_failed(comp, error="ledger mismatch")
    assert Notification.objects.filter(kind=Kind.ADMIN_ALERT).count() == 2


def test_winner_announcement_sends_the_staff_text_each_time():
    from datetime import timedelta

    won = winner(customer())
    won.announcement = "Sarah from Leeds wins the Tesla!"
    winner_events.winner_announcement(won)
    winner_events.winner_announcement(won)
    won.announced_at += timedelta(minutes=5)
    winner_events.winner_announcement(won)
    emails = outbox(channel=Channel.EMAIL)
    assert len(emails) == 2
    assert emails[0].payload["template"] == "winner_announcement"
    assert emails[0].payload["context"]["announcement"] == "Sarah from Leeds wins the Tesla!"
    assert (
        outbox(channel=Channel.SMS)[0].payload["body"]
        == "Fairdraw: Sarah from Leeds wins the Tesla!"
    )
