"""What customers see about credit cards before and after paying, and the dev payment page
that lets a tester pay with a debit, credit or prepaid card or have the card declined."""

from decimal import Decimal

import pytest

from core.models import OperatorSettings
from tests.factories import PrizeFactory, UserFactory, active_competition, correct_answer
from tickets import payments
from tickets.models import CardFunding, Order, PaymentEvent, Refund, Ticket
from tickets.services import order_checkout_start

from .conftest import paid_event, post_event
from .helpers import reserve

pytestmark = pytest.mark.django_db

DECLINED = "payment_intent.payment_failed"


def page(response) -> str:
    return response.content.decode()


def instant_win(**kw):
    competition = active_competition(**kw)
    PrizeFactory(competition=competition, kind="instant", position=None)
    return competition


def add(client, competition, quantity=1):
    response = client.post(
        f"/cart/add/{competition.slug}/",
        {"answer": correct_answer(competition).pk, "quantity": quantity},
    )
    assert response.url == "/cart/"


def checkout(client) -> Order:
    response = client.post("/checkout/")
    order = Order.objects.latest("pk")
    assert response.url == f"/checkout/dev-pay/{order.reference}/"
    return order


# ---------------------------------------------------------------- before paying


def test_checkout_says_how_much_of_the_credit_card_limit_is_used(client, fake_stripe):
    customer = UserFactory()
    fifties = active_competition(ticket_price=Decimal("50.00"))
    earlier = reserve(customer, fifties, quantity=2)
    post_event(client, paid_event(fake_stripe, earlier, funding="credit"))
    client.force_login(customer)
    add(client, active_competition(title="Win a Campervan"))

    text = page(client.get("/checkout/"))

    assert "Credit cards: up to £250.00 a month" in text
    assert "You have used £100.00 this month (£150.00 left)." in text
    assert "Instant win · no credit cards" not in text
    assert "No credit cards for instant-win competitions" in text
    assert "notice-warning card-rules" not in text


def test_checkout_warns_prominently_when_the_basket_has_an_instant_win(client):
    client.force_login(UserFactory())
    add(client, instant_win(title="Instant £500 Cash"))

    text = page(client.get("/checkout/"))

    assert "notice-warning card-rules" in text
    assert "Pay by debit card: no credit cards for instant wins" in text
    assert "(“Instant £500 Cash”)" in text
    # Said before the Pay button, where it is read before paying, and on the line itself.
    assert text.index("no credit cards for instant wins") < text.index("Pay £2.50")
    assert text.count("Instant win · no credit cards") == 1


def test_the_basket_says_it_too(client):
    add(client, instant_win(title="Instant Tech Bundle"))
    text = page(client.get("/cart/"))
    assert "Pay by debit card: no credit cards for instant wins" in text
    assert "Instant Tech Bundle" in text


def test_the_basket_of_a_visitor_gives_the_limit_without_their_spend(client):
    add(client, active_competition())
    text = page(client.get("/cart/"))
    assert "Credit cards: up to £250.00 a month" in text
    assert "You have used" not in text


def test_the_operators_cap_is_the_one_shown(client):
    row = OperatorSettings.current()
    row.credit_card_monthly_cap = Decimal("100.00")
    row.save()
    client.force_login(UserFactory())
    add(client, active_competition())
    assert "Credit cards: up to £100.00 a month" in page(client.get("/checkout/"))


def test_stripe_checkout_carries_the_credit_card_rules_by_the_pay_button(fake_stripe):
    customer = UserFactory()
    order = reserve(customer, active_competition(), quantity=2)
    order_checkout_start(order=order, success_url="http://t/s/", cancel_url="http://t/c/")

    (call,) = fake_stripe.calls("POST", "/v1/checkout/sessions")
    message = call.params["custom_text"]["submit"]["message"]
    assert message.startswith("Credit-card payments are limited to £250.00 a month")
    assert "you have £250.00 left this month" in message
    assert "refunded automatically" in message


def test_stripe_checkout_for_an_instant_win_asks_for_a_debit_card(fake_stripe):
    order = reserve(UserFactory(), instant_win(title="Instant PS5"), quantity=1)
    order_checkout_start(order=order, success_url="http://t/s/", cancel_url="http://t/c/")

    (call,) = fake_stripe.calls("POST", "/v1/checkout/sessions")
    message = call.params["custom_text"]["submit"]["message"]
    assert message.startswith("Credit cards are not accepted for instant-win competitions")
    assert "“Instant PS5”" in message
    assert "please pay by debit card" in message


# ---------------------------------------------------------------- the dev payment page


def test_dev_page_offers_card_types_and_a_decline_button(client):
    client.force_login(UserFactory())
    add(client, active_competition())
    order = checkout(client)

    text = page(client.get(f"/checkout/dev-pay/{order.reference}/"))

    assert "<legend>Test card type</legend>" in text
    for value, label in (
        ("debit", "Debit card"),
        ("credit", "Credit card"),
        ("prepaid", "Prepaid card"),
    ):
        assert f'id="funding-{value}" name="funding" value="{value}"' in text
        assert f'<label for="funding-{value}">{label}</label>' in text
    assert 'value="debit" checked' in text
    assert ">Decline payment</button>" in text
    assert "Credit cards: up to £250.00 a month" in text


def test_dev_credit_card_on_an_instant_win_is_refunded_and_the_customer_told(client):
    customer = UserFactory()
    client.force_login(customer)
    add(client, instant_win(title="Instant Cash"))
    order = checkout(client)

    response = client.post(
        f"/checkout/dev-pay/{order.reference}/", {"action": "pay", "funding": "credit"}
    )

    assert response.url == f"/checkout/success/{order.reference}/"
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert order.card_funding == CardFunding.CREDIT
    assert order.stripe_payment_intent_id == payments.dev_payment_intent_id(order, "credit")
    assert not order.tickets.exists()
    assert Refund.objects.get(order=order).reason == Refund.Reason.CREDIT_CARD
    text = page(client.get(response.url))
    assert "<h1>Credit card not accepted</h1>" in text
    assert "we have refunded £2.50 in full" in text
    assert "instant-win competitions (“Instant Cash”)" in text
    assert "arrived after your reserved numbers" not in text


def test_dev_debit_card_on_an_instant_win_is_paid(client):
    client.force_login(UserFactory())
    add(client, instant_win())
    order = checkout(client)
    client.post(f"/checkout/dev-pay/{order.reference}/", {"action": "pay", "funding": "debit"})
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.card_funding == CardFunding.DEBIT
    assert order.tickets.filter(status=Ticket.Status.ACTIVE).count() == 1


def test_dev_credit_card_over_the_cap_is_refunded(client):
    row = OperatorSettings.current()
    row.credit_card_monthly_cap = Decimal("5.00")
    row.save()
    client.force_login(UserFactory())
    competition = active_competition(ticket_price=Decimal("2.50"))
    add(client, competition, quantity=2)
    first = checkout(client)
    client.post(f"/checkout/dev-pay/{first.reference}/", {"action": "pay", "funding": "credit"})
    add(client, competition, quantity=1)
    second = checkout(client)

    response = client.post(
        f"/checkout/dev-pay/{second.reference}/", {"action": "pay", "funding": "credit"}
    )

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Order.Status.PAID
    assert second.status == Order.Status.REFUNDED
    text = page(client.get(response.url))
    assert "<h1>Credit card not accepted</h1>" in text
    assert "over the £5.00 a month you can pay by credit card" in text


def test_dev_decline_keeps_the_order_open_for_another_try(client):
    customer = UserFactory()
    client.force_login(customer)
    add(client, active_competition(), quantity=2)
    order = checkout(client)
    url = f"/checkout/dev-pay/{order.reference}/"

    response = client.post(url, {"action": "decline", "funding": "credit"}, follow=True)

    assert response.redirect_chain[-1][0] == url
    assert "Your card was declined and nothing was taken" in page(response)
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
    assert order.tickets.filter(status=Ticket.Status.RESERVED).count() == 2
    event = PaymentEvent.objects.get(type=DECLINED)
    assert event.order == order
    assert event.processed_at is not None
    assert event.outcome == "payment declined: generic_decline (Your card was declined.)"
    # The shape the harm-signal rule counts.
    assert PaymentEvent.objects.filter(type=DECLINED, order__user=customer).count() == 1

    client.post(url, {"action": "pay", "funding": "debit"})
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.tickets.filter(status=Ticket.Status.ACTIVE).count() == 2


def test_dev_page_refuses_a_made_up_card_type(client):
    client.force_login(UserFactory())
    add(client, active_competition())
    order = checkout(client)
    url = f"/checkout/dev-pay/{order.reference}/"
    response = client.post(url, {"action": "pay", "funding": "charge"}, follow=True)
    assert "Choose a card type" in page(response)
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING
    assert not PaymentEvent.objects.exists()


def test_dev_payment_intent_id_carries_the_card_type_and_nothing_else_does():
    gateway = payments.DevGateway()
    order = reserve(UserFactory(), active_competition(), quantity=1)
    for funding in payments.DEV_CARD_TYPES:
        assert gateway.card_funding(payments.dev_payment_intent_id(order, funding)) == funding
    assert gateway.card_funding("pi_3Pxyz_credit") == CardFunding.UNKNOWN
    assert gateway.card_funding(f"pi_dev_{order.reference}_gold") == CardFunding.UNKNOWN


# ---------------------------------------------------------------- declined payments (Stripe)


def declined_event(order, *, event_id="evt_declined", decline_code="insufficient_funds"):
    return {
        "id": event_id,
        "object": "event",
        "type": DECLINED,
        "data": {
            "object": {
                "id": f"pi_test_{order.pk}",
                "object": "payment_intent",
                "amount": 250,
                "currency": "gbp",
                "metadata": {"order_id": str(order.pk), "order_reference": order.reference},
                "status": "requires_payment_method",
                "last_payment_error": {
                    "type": "card_error",
                    "code": "card_declined",
                    "decline_code": decline_code,
                    "message": "Your card has insufficient funds.",
                },
            }
        },
    }


def test_a_declined_payment_is_recorded_against_the_order(client, settings):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_fairdraw"
    customer = UserFactory()
    order = reserve(customer, active_competition(), quantity=1)

    response = post_event(client, declined_event(order))

    assert response.status_code == 200
    expected = "payment declined: insufficient_funds (Your card has insufficient funds.)"
    assert response.json()["outcome"] == expected
    event = PaymentEvent.objects.get()
    assert (event.type, event.order, event.outcome) == (DECLINED, order, expected)
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
    assert order.card_funding == ""
    assert not Refund.objects.exists()
    # Delivered again: still one decline on record.
    assert post_event(client, declined_event(order)).json()["outcome"].startswith("duplicate")
    assert PaymentEvent.objects.filter(type=DECLINED, order__user=customer).count() == 1


def test_a_decline_without_a_decline_code_uses_the_error_code(client, settings):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_fairdraw"
    order = reserve(UserFactory(), active_competition(), quantity=1)
    event = declined_event(order)
    del event["data"]["object"]["last_payment_error"]["decline_code"]
    assert post_event(client, event).json()["outcome"].startswith("payment declined: card_declined")


def test_a_decline_for_someone_elses_payment_is_recorded_unlinked(client, settings):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_fairdraw"
    order = reserve(UserFactory(), active_competition(), quantity=1)
    event = declined_event(order)
    event["data"]["object"]["metadata"] = {}
    event["data"]["object"]["id"] = "pi_not_ours"
    assert post_event(client, event).json()["outcome"] == "no matching order"
    assert PaymentEvent.objects.get().order is None
