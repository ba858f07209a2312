"""Issue #14, no hoarding: one open checkout per customer, a confirmed e-mail before the first
reservation, and limits on how fast baskets and checkouts change."""

import pytest

from accounts.services import user_email_verify
from tests.factories import UserFactory, active_competition
from tickets.exceptions import NotEligible
from tickets.models import Order, Ticket

from .helpers import reserve
from .test_views import add, page

pytestmark = pytest.mark.django_db


def held(competition) -> int:
    competition.refresh_from_db()
    return competition.tickets_reserved


class TestOneOpenCheckout:
    def test_a_second_checkout_gives_back_the_first_ones_numbers(self):
        customer = UserFactory()
        porsche, tesla = active_competition(), active_competition()
        first = reserve(customer, porsche, numbers=[7, 8])

        second = reserve(customer, tesla, quantity=1)

        first.refresh_from_db()
        assert first.status == Order.Status.CANCELLED
        assert not first.tickets.exists()
        assert (held(porsche), held(tesla)) == (0, 1)
        assert Order.objects.filter(user=customer, status=Order.Status.PENDING).get() == second
        # The numbers are back on sale at once.
        assert reserve(UserFactory(), porsche, numbers=[7, 8]).tickets.count() == 2

    def test_eighteen_accounts_hold_only_eighteen_checkouts(self):
        competition = active_competition(max_tickets=100, max_tickets_per_user=5)
        hoarders = [UserFactory() for _ in range(18)]
        for _ in range(4):  # each tries to stack up checkouts
            for hoarder in hoarders:
                reserve(hoarder, competition, quantity=5)

        assert held(competition) == 18 * 5
        assert Ticket.objects.filter(competition=competition).count() == 90
        assert Order.objects.filter(status=Order.Status.PENDING).count() == 18

    def test_a_refused_new_checkout_keeps_the_open_one(self):
        customer = UserFactory()
        competition = active_competition(max_tickets_per_user=5)
        first = reserve(customer, competition, quantity=2)

        with pytest.raises(Exception, match="at most 5"):
            reserve(customer, competition, quantity=6)

        first.refresh_from_db()
        assert first.status == Order.Status.PENDING and first.tickets.count() == 2


class TestConfirmedEmail:
    def test_an_unconfirmed_customer_cannot_reserve_and_can_once_confirmed(self, client):
        competition = active_competition()
        customer = UserFactory(email_verified=False)
        with pytest.raises(NotEligible, match="Confirm your e-mail first"):
            reserve(customer, competition, quantity=1)
        client.force_login(customer)
        add(client, competition, quantity=2)

        assert "Confirm your e-mail first" in page(client.get("/cart/"))
        checkout = page(client.get("/checkout/"))
        assert "Confirm your e-mail first" in checkout
        assert "Send the confirmation link again" in checkout
        refused = client.post("/checkout/", follow=True)
        assert "Confirm your e-mail first" in page(refused)
        assert not Order.objects.exists()

        user_email_verify(user=customer)
        assert "Confirm your e-mail first" not in page(client.get("/checkout/"))
        assert client.post("/checkout/").status_code == 302
        assert Order.objects.get().status == Order.Status.PENDING


class TestThrottles:
    def test_checkout_flood_is_throttled_with_a_reason_and_a_time(self, client):
        competition = active_competition(max_tickets=1000, max_tickets_per_user=1000)
        client.force_login(UserFactory())
        for _ in range(10):
            add(client, competition, quantity=1)
            assert client.post("/checkout/").status_code == 302

        add(client, competition, quantity=1)
        response = client.post("/checkout/")

        assert response.status_code == 429
        assert "started a lot of checkouts in a short time" in page(response)
        assert "please wait" in page(response) and "minute" in page(response)
        assert 0 < int(response["Retry-After"]) <= 600
        assert Order.objects.count() == 10

    def test_checkouts_from_one_address_are_limited_across_accounts(self, client, settings):
        settings.FAIRDRAW_CHECKOUT_RATE_CLIENT = (3, 600)
        competition = active_competition(max_tickets=1000)
        for n in range(4):
            client.force_login(UserFactory())
            add(client, competition, quantity=1)
            response = client.post("/checkout/")
            assert response.status_code == (429 if n == 3 else 302), n

    def test_basket_changes_from_one_address_have_a_limit_of_their_own(self, client, settings):
        # The load test raises only this one (config/settings/loadtest.py).
        settings.FAIRDRAW_BASKET_RATE_CLIENT = (3, 60)
        competition = active_competition(max_tickets=1000, max_tickets_per_user=1000)
        for n in range(4):
            client.force_login(UserFactory())
            response = add(client, competition, quantity=1)
            assert response.status_code == (429 if n == 3 else 302), n

    def test_basket_changes_are_throttled(self, client):
        competition = active_competition(max_tickets=1000, max_tickets_per_user=1000)
        for _ in range(60):
            assert add(client, competition, quantity=1).status_code == 302

        response = add(client, competition, quantity=1)

        assert response.status_code == 429
        assert "changed your basket a lot" in page(response)
