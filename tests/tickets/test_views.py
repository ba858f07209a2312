"""Basket, number picker and checkout pages, end to end through the dev payment page."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import UserFactory, active_competition, correct_answer, wrong_answer
from tickets.cart import SESSION_KEY
from tickets.models import Order, PaymentEvent, Ticket
from tickets.services import order_fulfil

from .helpers import reserve

pytestmark = pytest.mark.django_db


def page(response) -> str:
    return response.content.decode()


def add(client, competition, quantity=3, answer=None, **extra):
    return client.post(
        f"/cart/add/{competition.slug}/",
        {"answer": (answer or correct_answer(competition)).pk, "quantity": quantity, **extra},
    )


def test_empty_basket(client):
    response = client.get("/cart/")
    assert response.status_code == 200
    assert "Your basket is empty" in page(response)


def test_add_lucky_dips_and_see_the_total(client):
    competition = active_competition(ticket_price="2.50")
    assert add(client, competition, quantity=3).url == "/cart/"
    add(client, competition, quantity=2, quantity_custom="")
    response = client.get("/cart/")
    text = page(response)
    assert competition.title in text
    assert "5 lucky dips" in text
    assert "£12.50" in text
    assert "Edinburgh" in text


def test_typed_quantity_wins_over_the_preset(client):
    competition = active_competition()
    add(client, competition, quantity=10, quantity_custom="7")
    assert client.session[SESSION_KEY][str(competition.pk)]["quantity"] == 7


def test_add_without_answer_is_refused_with_a_message(client):
    competition = active_competition()
    response = client.post(f"/cart/add/{competition.slug}/", {"quantity": 1}, follow=True)
    assert "Please answer the question" in page(response)
    assert SESSION_KEY not in client.session or not client.session[SESSION_KEY]


def test_add_beyond_the_limit_is_refused(client):
    competition = active_competition(max_tickets_per_user=5)
    add(client, competition, quantity=4)
    response = add(client, competition, quantity=2)
    assert response.url.endswith("#enter")
    follow = client.get(response.url.split("#")[0])
    assert "at most 5 tickets" in page(follow)
    assert client.session[SESSION_KEY][str(competition.pk)]["quantity"] == 4


def test_pick_numbers_shows_taken_and_saves_choices(client):
    competition = active_competition(max_tickets=250)
    reserve(UserFactory(), competition, numbers=[3])
    response = client.get(f"/cart/pick/{competition.slug}/")
    text = page(response)
    assert 'id="n3" name="numbers" value="3" disabled' in text
    assert 'id="n100"' in text and 'id="n101"' not in text
    assert "Page 1 of 3" in text

    answer = correct_answer(competition)
    client.post(
        f"/cart/pick/{competition.slug}/",
        {"answer": answer.pk, "numbers": ["5", "7"], "page": 1, "then": "stay"},
    )
    client.post(
        f"/cart/pick/{competition.slug}/",
        {"answer": answer.pk, "numbers": ["205"], "page": 3, "then": "stay"},
    )
    assert client.session[SESSION_KEY][str(competition.pk)]["numbers"] == [5, 7, 205]
    # Unticking on page 1 keeps page 3's choice.
    client.post(
        f"/cart/pick/{competition.slug}/", {"answer": answer.pk, "numbers": ["7"], "page": 1}
    )
    assert client.session[SESSION_KEY][str(competition.pk)]["numbers"] == [7, 205]
    assert "Page 3 of 3" in page(client.get(f"/cart/pick/{competition.slug}/?find=230"))


def test_picking_a_taken_number_says_which(client):
    competition = active_competition()
    reserve(UserFactory(), competition, numbers=[3])
    response = client.post(
        f"/cart/pick/{competition.slug}/",
        {"answer": correct_answer(competition).pk, "numbers": ["3", "4"], "page": 1},
        follow=True,
    )
    assert "already taken: 3" in page(response)


def test_update_and_remove_lines(client):
    competition = active_competition()
    add(client, competition, quantity=3)
    client.post(f"/cart/update/{competition.pk}/", {"quantity": 1})
    assert client.session[SESSION_KEY][str(competition.pk)]["quantity"] == 1
    client.post(f"/cart/remove/{competition.pk}/")
    assert client.session[SESSION_KEY] == {}


def test_checkout_needs_login(client, settings):
    competition = active_competition()
    add(client, competition)
    response = client.get("/checkout/")
    assert response.status_code == 302
    assert "next=/checkout/" in response.url


def test_basket_survives_logging_in(client):
    competition = active_competition()
    add(client, competition, quantity=2)
    client.force_login(UserFactory())
    assert client.session[SESSION_KEY][str(competition.pk)]["quantity"] == 2
    assert "2 lucky dips" in page(client.get("/checkout/"))


def test_minor_is_told_at_checkout(client):
    competition = active_competition()
    add(client, competition)
    client.force_login(UserFactory(date_of_birth=None))
    text = page(client.get("/checkout/"))
    assert "add your date of birth" in text
    response = client.post("/checkout/", follow=True)
    assert "date of birth" in page(response)
    assert not Order.objects.exists()


def test_whole_purchase_through_the_dev_payment_page(client):
    competition = active_competition(ticket_price="2.50")
    user = UserFactory()
    client.force_login(user)
    add(client, competition, quantity=2)
    client.post(
        f"/cart/pick/{competition.slug}/",
        {"answer": correct_answer(competition).pk, "numbers": ["42"], "page": 1},
    )

    response = client.post("/checkout/")
    order = Order.objects.get(user=user)
    assert response.url == f"/checkout/dev-pay/{order.reference}/"
    assert order.status == Order.Status.PENDING
    assert client.session[SESSION_KEY] == {}
    assert "Pay £7.50" in page(client.get(response.url))

    response = client.post(response.url, {"action": "pay"})
    assert response.url == f"/checkout/success/{order.reference}/"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert PaymentEvent.objects.get().outcome == "paid"
    text = page(client.get(response.url))
    assert "Your tickets" in text
    numbers = list(order.tickets.values_list("number", flat=True))
    assert 42 in numbers and len(numbers) == 3
    for n in numbers:
        assert f"</span>{n}" in text


def test_success_page_says_processing_until_the_webhook_arrives(client):
    user = UserFactory()
    order = reserve(user, active_competition(), quantity=1)
    client.force_login(user)
    text = page(client.get(f"/checkout/success/{order.reference}/"))
    assert "Payment processing" in text
    assert 'http-equiv="refresh"' in text


def test_success_page_marks_invalid_tickets(client):
    user = UserFactory()
    competition = active_competition()
    order = reserve(user, competition, quantity=1, answer=wrong_answer(competition))
    order_fulfil(order_id=order.pk)
    client.force_login(user)
    text = page(client.get(f"/checkout/success/{order.reference}/"))
    assert "Invalid (wrong answer)" in text


def test_someone_elses_order_is_not_found(client):
    order = reserve(UserFactory(), active_competition(), quantity=1)
    client.force_login(UserFactory())
    assert client.get(f"/checkout/success/{order.reference}/").status_code == 404
    assert client.get(f"/checkout/dev-pay/{order.reference}/").status_code == 404


def test_cancel_releases_numbers_and_refills_the_basket(client):
    competition = active_competition()
    user = UserFactory()
    client.force_login(user)
    add(client, competition, quantity=2)
    client.post(
        f"/cart/pick/{competition.slug}/",
        {"answer": correct_answer(competition).pk, "numbers": ["9"], "page": 1},
    )
    client.post("/checkout/")
    order = Order.objects.get(user=user)

    response = client.post(f"/checkout/dev-pay/{order.reference}/", {"action": "cancel"})
    text = page(client.get(response.url))

    assert "Payment cancelled" in text
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert not Ticket.objects.filter(order=order).exists()
    line = client.session[SESSION_KEY][str(competition.pk)]
    assert line["quantity"] == 2 and line["numbers"] == [9]


def test_checkout_error_is_shown_and_nothing_written(client):
    competition = active_competition(max_tickets=3, max_tickets_per_user=3)
    user = UserFactory()
    client.force_login(user)
    add(client, competition, quantity=3)
    reserve(UserFactory(), competition, quantity=1)
    response = client.post("/checkout/", follow=True)
    assert "Only 2 tickets left" in page(response)
    assert not Order.objects.filter(user=user).exists()


def test_dev_pay_page_is_off_when_stripe_is_configured(client, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    user = UserFactory()
    order = reserve(user, active_competition(), quantity=1, now=timezone.now() - timedelta(0))
    client.force_login(user)
    assert client.get(f"/checkout/dev-pay/{order.reference}/").status_code == 404
