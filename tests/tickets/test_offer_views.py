"""Bundles and discount codes as the customer meets them: the competition page, the basket's
"Apply code", checkout and the dev payment page. Prices come from the server, never the form."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from competitions.models import Bundle
from tests.factories import UserFactory, active_competition
from tickets.models import DiscountCode, DiscountRedemption, Order

from .test_views import add, page

pytestmark = pytest.mark.django_db

D = Decimal


@pytest.fixture
def offers():
    competition = active_competition(ticket_price=D("0.99"), max_tickets=500)
    Bundle.objects.create(competition=competition, quantity=5, price=D("4.00"))
    Bundle.objects.create(competition=competition, quantity=10, price=D("7.50"))
    DiscountCode.objects.create(code="WELCOME10", percent=D("10"))
    return competition


def test_the_competition_page_offers_its_bundles_with_their_saving(client, offers):
    text = page(client.get(offers.get_absolute_url()))
    assert "5 for £4.00" in text and "save £0.95" in text
    assert "10 for £7.50" in text and "save £2.40" in text


def test_the_basket_shows_the_bundle_breakdown_and_the_code(client, offers):
    client.force_login(UserFactory())
    add(client, offers, quantity=7)
    text = page(client.get("/cart/"))
    assert "5 for £4.00 + 2 × £0.99" in text
    assert "You save £0.95" in text
    assert "£5.98" in text

    response = client.post("/cart/code/", {"code": " welcome10 "}, follow=True)
    text = page(response)
    assert "Code WELCOME10 applied: 10% off." in text
    # £5.98 less 10% (£0.598, so £0.60): £5.38.
    assert "−£0.60" in text and 'data-testid="order-total">£5.38<' in text

    text = page(client.post("/cart/code/", {"action": "remove"}, follow=True))
    assert "Discount code removed." in text
    assert 'data-testid="order-total">£5.98<' in text


@pytest.mark.parametrize(
    ("typed", "terms", "message"),
    [
        ("NOPE", {}, "We don’t recognise the code “NOPE”."),
        ("OLD", {"valid_until": timezone.now() - timedelta(hours=1)}, "The code OLD expired on"),
        ("GONE", {"max_uses": 0}, "The code GONE has been used up."),
        ("", {}, "Enter a discount code."),
    ],
)
def test_a_code_that_does_not_apply_is_explained_and_not_kept(
    client, offers, typed, terms, message
):
    if terms:
        DiscountCode.objects.create(code=typed, percent=D("10"), **terms)
    add(client, offers, quantity=5)
    text = page(client.post("/cart/code/", {"code": typed}, follow=True))
    assert message in text
    assert 'data-testid="order-total">£4.00<' in text
    assert not DiscountRedemption.objects.exists()


def test_posted_prices_are_ignored(client, offers):
    user = UserFactory()
    client.force_login(user)
    add(client, offers, quantity=5, price="0.01", total="0.01", unit_price="0.01")
    client.post("/cart/code/", {"code": "WELCOME10", "percent": "100", "amount": "99"})

    response = client.post("/checkout/", {"total": "0.01", "amount": "1", "discount": "5"})

    order = Order.objects.get(user=user)
    assert order.total == D("3.60")  # 5 for £4.00, 10% off
    assert "Pay £3.60" in page(client.get(response.url))


def test_a_code_that_expired_since_it_was_applied_stops_checkout_with_nothing_written(
    client, offers
):
    user = UserFactory()
    client.force_login(user)
    add(client, offers, quantity=5)
    client.post("/cart/code/", {"code": "WELCOME10"})
    DiscountCode.objects.filter(code="WELCOME10").update(
        valid_until=timezone.now() - timedelta(minutes=1)
    )

    response = client.post("/checkout/", follow=True)

    assert "The code WELCOME10 expired on" in page(response)
    assert not Order.objects.exists()
    assert DiscountCode.objects.get(code="WELCOME10").uses == 0


def test_paying_a_bundle_with_a_code_on_the_dev_payment_page(client, offers):
    user = UserFactory()
    client.force_login(user)
    add(client, offers, quantity=12)
    client.post("/cart/code/", {"code": "WELCOME10"})
    # 10 for £7.50 + 2 × £0.99 = £9.48; 10% off is £0.948, so £0.95: £8.53.
    assert 'data-testid="order-total">£8.53<' in page(client.get("/checkout/"))

    response = client.post("/checkout/")
    assert "Pay £8.53" in page(client.get(response.url))
    response = client.post(response.url, {"action": "pay"})

    order = Order.objects.get(user=user)
    assert order.status == Order.Status.PAID and order.total == D("8.53")
    assert order.tickets.count() == 12
    assert DiscountCode.objects.get(code="WELCOME10").uses == 1


def test_cancelling_at_the_payment_page_gives_the_code_back_to_the_basket(client, offers):
    client.force_login(UserFactory())
    add(client, offers, quantity=5)
    client.post("/cart/code/", {"code": "WELCOME10"})
    order_url = client.post("/checkout/").url
    order = Order.objects.get()

    client.post(order_url, {"action": "cancel"}, follow=True)

    assert DiscountCode.objects.get(code="WELCOME10").uses == 0
    text = page(client.get("/cart/"))
    assert "WELCOME10" in text and 'data-testid="order-total">£3.60<' in text
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
