"""The customer's own pages: sign up, log in and out, password reset, profile and /account/."""

import re
from datetime import date, timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from accounts.models import User
from tests.factories import (
    PASSWORD,
    TicketFactory,
    UserFactory,
    active_competition,
    correct_answer,
    wrong_answer,
)
from tickets.models import Ticket
from tickets.services import order_record_paid
from winners.models import Winner

pytestmark = pytest.mark.django_db


def html(response) -> str:
    return response.content.decode()


def signup_data(**overrides) -> dict:
    return {
        "first_name": "Sarah",
        "last_name": "Khan",
        "email": "Sarah.Khan@Example.com",
        "date_of_birth": "1990-05-17",
        "phone": "07700 900123",
        "password1": "a-long-and-unusual-passphrase",
        "password2": "a-long-and-unusual-passphrase",
        **overrides,
    }


def confirmation_link(message) -> str:
    return re.search(r"http://testserver(/account/confirm-email/\S+/)", message.body).group(1)


def same_page(one: str, other: str) -> bool:
    """Whether two pages read the same apart from their per-request tokens."""
    tokens = re.compile(r'(nonce|value)="[^"]*"')
    return tokens.sub("", one) == tokens.sub("", other)


def sign_up_and_confirm(client, **overrides):
    """Sign up, then open the e-mailed link in the same browser: the answer is the redirect
    that logs the new customer in."""
    response = client.post(reverse("accounts:signup"), signup_data(**overrides))
    assert response.url == reverse("account_email_verification_sent"), response
    return client.post(confirmation_link(mail.outbox[-1]))


class TestSignUp:
    url = reverse("accounts:signup")

    def test_page_has_every_field_with_a_label(self, client):
        page = html(client.get(self.url))

        for name, label in [
            ("first_name", "First name"),
            ("email", "E-mail address"),
            ("date_of_birth", "Date of birth"),
            ("phone", "Mobile number"),
            ("password1", "Password"),
            ("marketing_consent", "Send me news"),
        ]:
            assert f'for="id_{name}">{label}' in page, name
        assert 'type="date"' in page
        assert 'name="marketing_consent"' in page and "checked" not in page

    def test_signing_up_creates_the_account_but_logs_in_only_from_the_link(self, client):
        response = client.post(self.url, signup_data(marketing_consent="on"))

        assert response.status_code == 302
        assert response.url == reverse("account_email_verification_sent")
        user = User.objects.get()
        assert user.email == "sarah.khan@example.com"
        assert user.phone == "+447700900123"
        assert user.marketing_consent_at is not None
        assert "_auth_user_id" not in client.session
        assert "open the link in it" in html(client.get(response.url))
        (message,) = mail.outbox
        assert message.subject == "Confirm your e-mail address for Fairdraw"

    def test_the_link_logs_in_on_the_limit_prompt_with_a_welcome(self, client):
        client.post(self.url, signup_data())
        link = confirmation_link(mail.outbox[-1])

        assert "Confirm my e-mail address" in html(client.get(link))
        assert "_auth_user_id" not in client.session  # opening the page is not enough
        response = client.post(link)

        user = User.objects.get()
        assert client.session["_auth_user_id"] == str(user.pk)
        assert response.url == reverse("accounts:limits") + "?welcome=1"
        page = html(client.get(response.url))
        assert "Welcome to Fairdraw, Sarah!" in page
        assert "Set a monthly limit" in page

    def test_a_link_opened_in_another_browser_confirms_then_asks_to_log_in(self, client):
        client.post(self.url, signup_data())
        link = confirmation_link(mail.outbox[-1])
        client.cookies.clear()  # another browser: allauth logs in only the one that signed up

        response = client.post(link)

        assert "_auth_user_id" not in client.session
        welcome = reverse("accounts:limits") + "?welcome=1"
        assert response.url == f"{reverse('accounts:login')}?{urlencode({'next': welcome})}"
        logged_in = client.post(
            response.url,
            {"login": "sarah.khan@example.com", "password": signup_data()["password1"]},
        )
        assert logged_in.url == welcome

    def test_goes_back_to_where_the_customer_was(self, client):
        response = sign_up_and_confirm(client, next="/competitions/some-prize/")

        # Via the monthly-limit prompt, which links on to where they were going.
        assert response.url == (
            reverse("accounts:limits") + "?welcome=1&next=%2Fcompetitions%2Fsome-prize%2F"
        )
        assert 'href="/competitions/some-prize/"' in html(client.get(response.url))

    def test_never_redirects_off_site(self, client):
        response = sign_up_and_confirm(client, next="https://evil.example/")

        assert response.url == reverse("accounts:limits") + "?welcome=1"

    def test_under_18_is_refused_on_the_server(self, client):
        born = timezone.localdate() - timedelta(days=365 * 17)

        response = client.post(self.url, signup_data(date_of_birth=born.isoformat()))

        assert response.status_code == 200
        assert "You must be 18 or over" in html(response)
        assert not User.objects.exists()
        assert "_auth_user_id" not in client.session

    def test_an_address_with_an_account_gets_the_same_answer_and_its_owner_an_e_mail(self, client):
        owner = UserFactory(email="sarah.khan@example.com")
        stranger = Client()
        new = stranger.post(self.url, signup_data(email="someone.new@example.com"))

        # In another case too: the address is the same whatever its case.
        taken = client.post(self.url, signup_data(email="SARAH.KHAN@EXAMPLE.COM"))

        assert (taken.status_code, taken.url) == (new.status_code, new.url)
        assert same_page(
            html(client.get(taken.url)).replace("sarah.khan@", "@"),
            html(stranger.get(new.url)).replace("someone.new@", "@"),
        )
        assert "_auth_user_id" not in client.session
        assert User.objects.filter(email__iexact="sarah.khan@example.com").get() == owner
        assert User.objects.count() == 2  # the owner and the new sign-up, nothing else
        message = mail.outbox[-1]
        assert message.to == ["sarah.khan@example.com"]
        assert message.subject == "You already have a Fairdraw account"
        assert "/account/confirm-email/" not in message.body
        assert "/account/password/reset/" in message.body
        assert "already exists" not in html(client.get(taken.url))

    def test_an_address_taken_after_the_form_checked_it_gets_the_same_answer(
        self, client, monkeypatch
    ):
        # The service's own check catches what the form missed (a race between two sign-ups).
        UserFactory(email="sarah.khan@example.com")
        monkeypatch.setattr(
            "allauth.account.internal.flows.manage_email.assess_unique_email",
            lambda email, user=None: True,
        )

        response = client.post(self.url, signup_data())

        assert response.url == reverse("account_email_verification_sent")
        assert User.objects.count() == 1
        assert "_auth_user_id" not in client.session
        assert mail.outbox[-1].subject == "You already have a Fairdraw account"

    def test_mistakes_are_summarised_and_linked_to_their_fields(self, client):
        response = client.post(
            self.url, signup_data(phone="123", password2="something-else", first_name="")
        )

        page = html(response)
        assert 'role="alert"' in page
        assert '<a href="#id_first_name">Enter your first name.</a>' in page
        assert "Enter a valid phone number" in page
        assert "The two passwords don’t match." in page
        assert 'aria-invalid="true"' in page
        assert not User.objects.exists()

    def test_logged_in_customers_go_to_their_account(self, client):
        client.force_login(UserFactory())

        assert client.get(self.url).url == reverse("accounts:dashboard")


class TestLogIn:
    url = reverse("accounts:login")

    def test_logs_in_with_any_case_of_the_e_mail(self, client):
        UserFactory(email="priya@example.com")

        response = client.post(self.url, {"login": "PRIYA@example.com", "password": PASSWORD})

        assert response.status_code == 302
        assert response.url == reverse("accounts:dashboard")

    def test_wrong_password_gives_a_plain_message(self, client):
        UserFactory(email="priya@example.com")

        response = client.post(self.url, {"login": "priya@example.com", "password": "nope"})

        assert "don’t match an account" in html(response)

    def test_a_banned_customer_is_told_why_but_only_with_the_right_password(self, client):
        UserFactory(email="banned@example.com", banned=True)

        right = client.post(self.url, {"login": "banned@example.com", "password": PASSWORD})
        wrong = client.post(self.url, {"login": "banned@example.com", "password": "guess"})

        assert "This account has been suspended" in html(right)
        assert "_auth_user_id" not in client.session
        assert "suspended" not in html(wrong)

    def test_log_out_is_a_post(self, client):
        client.force_login(UserFactory())

        response = client.post(reverse("accounts:logout"))

        assert response.url == reverse("home")
        assert "_auth_user_id" not in client.session

    def test_account_pages_send_visitors_to_log_in_and_back(self, client):
        for name in ("accounts:dashboard", "accounts:profile"):
            response = client.get(reverse(name))
            assert response.url == f"{self.url}?next={reverse(name)}"


class TestPasswordReset:
    url = reverse("account_reset_password")

    def test_reset_by_e_mail_end_to_end(self, client):
        user = UserFactory(email="reset.me@example.com")

        response = client.post(self.url, {"email": "Reset.Me@example.com"})
        assert response.url == reverse("account_reset_password_done")
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert message.subject == "Reset your Fairdraw password"
        link = re.search(r"http://testserver(/account/password/reset/key/\S+/)", message.body)

        form_page = client.get(link.group(1), follow=True)
        assert "Choose a new password" in html(form_page)
        done = client.post(
            form_page.redirect_chain[-1][0],
            {"password1": "brand-new-passphrase-9", "password2": "brand-new-passphrase-9"},
        )
        assert done.url == reverse("account_reset_password_from_key_done")
        user.refresh_from_db()
        assert user.check_password("brand-new-passphrase-9")

    def test_unknown_address_looks_the_same_and_sends_nothing(self, client):
        response = client.post(self.url, {"email": "nobody@example.com"})

        assert response.url == reverse("account_reset_password_done")
        assert mail.outbox == []

    def test_a_used_or_forged_link_says_it_has_expired(self, client):
        response = client.get("/account/password/reset/key/1-set-password/", follow=True)

        assert "This link has expired" in html(response)

    def test_the_old_address_still_leads_to_the_reset_page(self, client):
        response = client.get("/account/password-reset/")

        assert response.status_code == 301 and response.url == self.url


class TestProfile:
    url = reverse("accounts:profile")

    def test_edits_name_phone_and_consent_but_not_birth_date(self, client):
        user = UserFactory(date_of_birth=date(1990, 5, 17))
        client.force_login(user)
        page = html(client.get(self.url))
        assert "17 May 1990" in page
        assert 'name="date_of_birth"' not in page

        response = client.post(
            self.url,
            {
                "first_name": "Sam",
                "last_name": "Jones",
                "phone": "+44 7700 900456",
                "marketing_consent": "on",
                "date_of_birth": "2001-01-01",
            },
        )

        assert response.url == self.url
        user.refresh_from_db()
        assert (user.first_name, user.last_name, user.phone) == ("Sam", "Jones", "+447700900456")
        assert user.marketing_consent and user.marketing_consent_at
        assert user.date_of_birth == date(1990, 5, 17)

    def test_bad_phone_is_explained(self, client):
        client.force_login(UserFactory())

        response = client.post(self.url, {"first_name": "A", "last_name": "B", "phone": "999"})

        assert "Enter a valid phone number" in html(response)


class TestDashboard:
    url = reverse("accounts:dashboard")

    def test_tickets_grouped_by_competition_with_their_status(self, client):
        user = UserFactory()
        porsche = active_competition(title="Win a Porsche")
        tesla = active_competition(title="Win a Tesla")
        order_record_paid(
            user=user, competition=porsche, answer=correct_answer(porsche), numbers=[7, 12]
        )
        order_record_paid(user=user, competition=tesla, answer=wrong_answer(tesla), numbers=[3])
        TicketFactory(competition=porsche, user=user, number=40, status=Ticket.Status.REFUNDED)
        TicketFactory(competition=porsche, number=99)  # someone else's
        client.force_login(user)

        page = html(client.get(self.url))

        assert "Win a Porsche" in page and "Win a Tesla" in page
        assert "#7" in page and "#12" in page and "#3" in page
        assert "#99" not in page
        assert "wrong answer to the skill question — not entered in the draw" in page
        assert "Refunded" in page and "#40" in page
        assert page.count('class="entry"') == 2

    def test_orders_with_reference_status_and_total(self, client):
        user = UserFactory()
        competition = active_competition(title="Win a Porsche")
        order = order_record_paid(
            user=user, competition=competition, answer=correct_answer(competition), quantity=4
        )
        client.force_login(user)

        page = html(client.get(self.url))

        assert order.reference in page
        assert "Paid" in page
        assert "£10.00" in page  # 4 × £2.50
        assert "4 × " in page

    def test_wins_are_listed(self, client):
        user = UserFactory()
        competition = active_competition(title="Win a PS5")
        ticket = TicketFactory(competition=competition, user=user, number=5)
        Winner.objects.create(
            competition=competition,
            prize=competition.prizes.get(),
            ticket=ticket,
            user=user,
            display_name="Sarah K.",
        )
        client.force_login(user)

        page = html(client.get(self.url))

        assert "Your wins" in page
        assert "with ticket <strong>#5</strong>" in page
        assert "Awaiting verification" in page

    def test_empty_account_invites_to_browse(self, client):
        client.force_login(UserFactory())

        page = html(client.get(self.url))

        assert "You haven’t entered any competitions yet" in page
        assert "No orders yet." in page
