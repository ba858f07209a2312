"""Issue #14, accounts and abuse: allauth's rate limits on log-in, sign-up and reset, e-mail
confirmation before the first purchase, and staff's second factor and short sessions."""

import re

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from accounts.models import User
from accounts.selectors import email_verified
from tests.factories import PASSWORD, UserFactory, active_competition, totp_code
from tests.tickets.helpers import reserve
from tickets.exceptions import NotEligible

from .test_views import signup_data

pytestmark = pytest.mark.django_db

LOGIN = reverse("accounts:login")


def log_in(client, email, password, **extra):
    return client.post(LOGIN, {"login": email, "password": password, **extra})


class TestLogInLimits:
    def test_after_repeated_wrong_passwords_even_the_right_one_is_refused(self, client):
        UserFactory(email="target@example.com")
        for _ in range(5):
            assert "don’t match an account" in log_in(client, "target@example.com", "guess").text

        refused = log_in(client, "target@example.com", PASSWORD)

        assert refused.status_code == 200
        assert "logging in is paused for 15 minutes" in refused.text
        assert "_auth_user_id" not in client.session

    def test_the_limit_is_per_address_so_others_still_log_in(self, client):
        UserFactory(email="target@example.com")
        UserFactory(email="other@example.com")
        for _ in range(5):
            log_in(client, "target@example.com", "guess")

        assert log_in(client, "other@example.com", PASSWORD).status_code == 302

    def test_an_unknown_address_reads_like_a_wrong_password(self, client):
        UserFactory(email="known@example.com")

        unknown = log_in(client, "nobody@example.com", PASSWORD).text
        wrong = log_in(client, "known@example.com", "guess").text

        assert "don’t match an account" in unknown and "don’t match an account" in wrong


class TestSignUpAndResetLimits:
    def test_sign_up_flood_from_one_address_is_throttled(self, client):
        for n in range(5):
            response = client.post(
                reverse("accounts:signup"), signup_data(email=f"bot{n}@example.com")
            )
            assert response.status_code == 302, n
            client.logout()

        flood = client.post(reverse("accounts:signup"), signup_data(email="bot99@example.com"))

        assert flood.status_code == 429
        assert "Too many attempts" in flood.text
        assert User.objects.count() == 5

    def test_reset_e_mails_to_one_address_are_limited(self, client):
        UserFactory(email="victim@example.com")
        for _ in range(20):
            client.post(reverse("account_reset_password"), {"email": "victim@example.com"})

        assert len(mail.outbox) == 3


class TestEmailConfirmation:
    def test_sign_up_sends_a_link_and_buying_waits_for_it(self, client):
        response = client.post(reverse("accounts:signup"), signup_data())
        assert response.url == reverse("account_email_verification_sent")
        user = User.objects.get()
        assert "_auth_user_id" not in client.session  # not in until the link is opened
        assert not email_verified(user)
        (message,) = mail.outbox
        assert message.subject == "Confirm your e-mail address for Fairdraw"
        competition = active_competition()

        # Defence in depth: the purchase rules refuse an unconfirmed address too.
        with pytest.raises(NotEligible, match="Confirm your e-mail first"):
            reserve(user, competition, quantity=1)

        link = re.search(r"http://testserver(/account/confirm-email/\S+/)", message.body).group(1)
        page = client.get(link)
        assert "Confirm my e-mail address" in page.text
        client.post(link)
        assert email_verified(user)
        assert client.session["_auth_user_id"] == str(user.pk)
        assert reserve(user, competition, quantity=1).tickets.count() == 1

    def test_an_unconfirmed_customer_logging_in_gets_a_fresh_link_not_a_session(self, client):
        UserFactory(email="late@example.com", email_verified=False)

        first = log_in(client, "late@example.com", PASSWORD)
        again = log_in(client, "late@example.com", PASSWORD)

        assert first.url == again.url == reverse("account_email_verification_sent")
        assert "_auth_user_id" not in client.session
        # One link per address every three minutes (ACCOUNT_RATE_LIMITS "confirm_email").
        (message,) = mail.outbox
        assert message.to == ["late@example.com"]
        assert "/account/confirm-email/" in message.body

    def test_the_link_from_a_log_in_logs_in_where_the_customer_was_going(self, client):
        customer = UserFactory(email="late@example.com", email_verified=False)
        client.post(LOGIN, {"login": customer.email, "password": PASSWORD, "next": "/cart/"})
        link = re.search(r"http://testserver(/account/confirm-email/\S+/)", mail.outbox[0].body)

        response = client.post(link.group(1))

        assert response.url == "/cart/"
        assert client.session["_auth_user_id"] == str(customer.pk)
        assert email_verified(customer)

    def test_customers_from_before_keep_buying(self, client):
        # Factories stand for existing customers: migration 0007 confirmed their addresses.
        customer = UserFactory()
        assert email_verified(customer)
        assert log_in(client, customer.email, PASSWORD).url == reverse("accounts:dashboard")


class TestStaffSecondFactor:
    def test_staff_without_a_second_factor_are_sent_to_set_one_up(self, client):
        staff = UserFactory(is_staff=True, is_superuser=True, second_factor=False)
        client.force_login(staff)

        for url in ("/admin/", "/admin/accounts/user/", "/admin/tickets/order/"):
            response = client.get(url)
            assert response.status_code == 302, url
            assert response.url == reverse("mfa_activate_totp"), url

    def test_admin_login_goes_through_allauth_and_its_code_step(self, client):
        staff = UserFactory(email="ops@fairdraw.example", is_staff=True, is_superuser=True)

        start = client.get("/admin/login/?next=/admin/accounts/user/")
        assert start.url == f"{LOGIN}?next=%2Fadmin%2Faccounts%2Fuser%2F"
        step = log_in(client, staff.email, PASSWORD, next="/admin/accounts/user/")
        assert step.url == reverse("mfa_authenticate")
        assert "_auth_user_id" not in client.session  # the password alone is not enough
        assert client.post(step.url, {"code": "000000"}).status_code == 200

        done = client.post(step.url, {"code": totp_code()})

        assert done.url == "/admin/accounts/user/"
        assert client.get(done.url).status_code == 200

    def test_staff_sessions_last_a_working_day_customers_keep_theirs(self, client):
        staff = UserFactory(is_staff=True)
        log_in(client, staff.email, PASSWORD)
        client.post(reverse("mfa_authenticate"), {"code": totp_code()})
        assert client.session["_auth_user_id"] == str(staff.pk)
        assert (
            client.session.get_expiry_age() == settings.FAIRDRAW_STAFF_SESSION_SECONDS == 8 * 3600
        )

        client.logout()
        customer = UserFactory()
        log_in(client, customer.email, PASSWORD)
        assert client.session["_auth_user_id"] == str(customer.pk)
        assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE

    def test_an_idle_staff_session_is_logged_out(self, client, settings):
        staff = UserFactory(is_staff=True, is_superuser=True)
        client.force_login(staff)
        assert client.get("/admin/").status_code == 200
        session = client.session
        session["fairdraw_staff_seen"] -= settings.FAIRDRAW_STAFF_SESSION_SECONDS + 1
        session.save()

        response = client.get("/admin/")

        assert response.status_code == 302 and response.url.startswith(LOGIN)
        assert "_auth_user_id" not in client.session

    def test_customers_may_turn_on_two_factor_from_their_details(self, client):
        client.force_login(UserFactory())

        assert reverse("mfa_index") in client.get(reverse("accounts:profile")).text
