"""The operator's "verify age before the first purchase" switch, at the purchase boundary:
off, an unverified adult buys; on, they are refused with what to do and nothing is written;
verified, they buy; and the date of birth is still checked at every checkout."""

from datetime import date

import pytest
from django.utils import timezone

from accounts.models import VerificationMethod
from accounts.services import user_verify
from tests.factories import UserFactory, active_competition, correct_answer, operator_settings
from tickets.cart import SESSION_KEY
from tickets.exceptions import NotEligible
from tickets.models import Order, Ticket
from tickets.services import order_record_paid, postal_entry_add

from .helpers import reserve

pytestmark = pytest.mark.django_db

SAYS = "We need to verify your age before your first purchase"


@pytest.fixture
def competition():
    return active_competition(max_tickets_per_user=50)


@pytest.fixture
def staff():
    return UserFactory(is_staff=True, is_superuser=True)


def nothing_written(customer, competition):
    competition.refresh_from_db()
    return (
        not Order.objects.filter(user=customer).exists()
        and not Ticket.objects.filter(user=customer).exists()
        and competition.tickets_sold == 0
        and competition.tickets_reserved == 0
    )


def test_switched_off_an_unverified_adult_buys(competition):
    operator_settings(require_age_verification=False)
    customer = UserFactory()
    order = reserve(customer, competition, quantity=2)
    assert order.tickets.count() == 2


def test_switched_on_an_unverified_customer_is_refused_and_nothing_is_written(competition):
    operator_settings(require_age_verification=True)
    customer = UserFactory()
    with pytest.raises(NotEligible) as refused:
        reserve(customer, competition, quantity=2)
    message = str(refused.value)
    assert message.startswith(SAYS)
    assert "hello@fairdraw.example" in message and "passport or driving licence" in message
    assert nothing_written(customer, competition)
    assert not customer.can_purchase and customer.awaits_age_verification()


def test_switched_on_a_verified_customer_buys(competition, staff):
    operator_settings(require_age_verification=True)
    customer = UserFactory()
    user_verify(user=customer, by=staff, method=VerificationMethod.DOCUMENT)
    customer.refresh_from_db()
    order = reserve(customer, competition, quantity=2)
    assert order.tickets.count() == 2


def test_switching_on_stops_the_very_next_purchase(competition):
    customer = UserFactory()
    reserve(customer, competition, quantity=1)
    operator_settings(require_age_verification=True)
    with pytest.raises(NotEligible, match=SAYS):
        reserve(customer, competition, quantity=1)


def test_free_postal_entries_follow_the_same_rule(competition):
    operator_settings(require_age_verification=True)
    customer = UserFactory()
    with pytest.raises(NotEligible, match=SAYS):
        postal_entry_add(user=customer, competition=competition)
    assert nothing_written(customer, competition)


def test_the_date_of_birth_is_still_checked_at_checkout(competition):
    """A verified flag never stands in for the birthday: a verified account whose date of
    birth says under 18, or that has none, is refused with the age message, not the
    verification one."""
    operator_settings(require_age_verification=True)
    for customer in (
        UserFactory(minor=True, is_verified=True, verified_at=timezone.now()),
        UserFactory(date_of_birth=None, is_verified=True, verified_at=timezone.now()),
    ):
        with pytest.raises(NotEligible) as refused:
            reserve(customer, competition, quantity=1)
        assert "Only adults (18+)" in str(refused.value)
        assert SAYS not in str(refused.value)
        assert nothing_written(customer, competition)


def test_a_minor_is_told_about_age_not_about_verification(competition):
    operator_settings(require_age_verification=True)
    customer = UserFactory(date_of_birth=date(timezone.localdate().year - 17, 1, 1))
    with pytest.raises(NotEligible, match=r"Only adults \(18\+\)"):
        reserve(customer, competition, quantity=1)


def test_recorded_sales_obey_it_too(competition):
    operator_settings(require_age_verification=True)
    customer = UserFactory()
    with pytest.raises(NotEligible):
        order_record_paid(
            user=customer,
            competition=competition,
            answer=correct_answer(competition),
            quantity=1,
        )
    assert nothing_written(customer, competition)


# ---------------------------------------------------------------- shown up front


def basket_with(client, competition):
    client.post(
        f"/cart/add/{competition.slug}/",
        {"answer": correct_answer(competition).pk, "quantity": 2},
    )


def test_basket_checkout_and_account_say_so_up_front(client, competition):
    operator_settings(require_age_verification=True)
    customer = UserFactory()
    client.force_login(customer)
    basket_with(client, competition)

    for url in ("/cart/", "/checkout/", "/account/"):
        html = client.get(url).content.decode()
        assert SAYS in html, url
    checkout = client.get("/checkout/").content.decode()
    assert "Pay £" not in checkout  # no pay button to press


def test_paying_anyway_is_refused_with_the_message(client, competition):
    operator_settings(require_age_verification=True)
    customer = UserFactory()
    client.force_login(customer)
    basket_with(client, competition)
    response = client.post("/checkout/", follow=True)
    assert SAYS in response.content.decode()
    assert nothing_written(customer, competition)
    assert client.session[SESSION_KEY]  # the basket is kept for after the check


def test_no_notice_when_switched_off_or_verified(client, competition):
    customer = UserFactory()
    client.force_login(customer)
    basket_with(client, competition)
    assert SAYS not in client.get("/checkout/").content.decode()

    operator_settings(require_age_verification=True)
    customer.is_verified = True
    customer.save(update_fields=["is_verified"])
    for url in ("/cart/", "/checkout/", "/account/"):
        assert SAYS not in client.get(url).content.decode(), url
