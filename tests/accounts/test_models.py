"""Who may enter: age on a given day, bans, and how customers log in."""

from datetime import date

import pytest
from django.contrib.auth import get_user_model

from accounts.models import age_on
from tests.factories import PASSWORD, UserFactory


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        (date(2008, 6, 15), date(2026, 6, 14), 17),  # the day before the 18th birthday
        (date(2008, 6, 15), date(2026, 6, 15), 18),  # the 18th birthday
        (date(2008, 6, 15), date(2026, 6, 16), 18),
        (date(2008, 1, 1), date(2025, 12, 31), 17),  # across a year end
        (date(2008, 1, 1), date(2026, 1, 1), 18),
        (date(2008, 12, 31), date(2026, 12, 30), 17),
        (date(2008, 12, 31), date(2026, 12, 31), 18),
        # Born on 29 February: in a common year they come of age on 1 March.
        (date(2008, 2, 29), date(2026, 2, 28), 17),
        (date(2008, 2, 29), date(2026, 3, 1), 18),
        (date(2008, 2, 29), date(2028, 2, 28), 19),
        (date(2008, 2, 29), date(2028, 2, 29), 20),
        (date(2008, 6, 15), date(2008, 6, 15), 0),
    ],
)
def test_age_on(born, on, age):
    assert age_on(born, on) == age


def test_is_of_age_from_the_18th_birthday():
    user = UserFactory.build(date_of_birth=date(2008, 6, 15))
    assert not user.is_of_age(on=date(2026, 6, 14))
    assert user.is_of_age(on=date(2026, 6, 15))


def test_unknown_date_of_birth_is_not_of_age():
    user = UserFactory.build(date_of_birth=None)
    assert user.age() is None
    assert not user.is_of_age()
    assert not user.can_purchase


@pytest.mark.django_db  # reads whether the operator requires age verification first
def test_adult_in_good_standing_can_purchase():
    assert UserFactory.build().can_purchase


def test_minor_cannot_purchase():
    assert not UserFactory.build(minor=True).can_purchase


def test_banned_user_cannot_purchase():
    user = UserFactory.build(banned=True)
    assert user.is_of_age()
    assert not user.can_purchase


def test_deactivated_user_cannot_purchase():
    assert not UserFactory.build(is_active=False).can_purchase


def test_public_name_is_first_name_and_initial():
    assert UserFactory.build(first_name="Sarah", last_name="Khan").public_name == "Sarah K."
    assert UserFactory.build(first_name="Sarah", last_name="").public_name == "Sarah"


@pytest.mark.django_db
def test_customer_logs_in_with_email_and_password(client):
    user = UserFactory(email="sam@example.com")
    assert client.login(email="sam@example.com", password=PASSWORD)
    assert int(client.session["_auth_user_id"]) == user.pk


@pytest.mark.django_db
def test_wrong_password_is_refused(client):
    UserFactory(email="sam@example.com")
    assert not client.login(email="sam@example.com", password="not-the-password")


@pytest.mark.django_db
def test_login_ignores_email_case(client):
    UserFactory(email="sam@example.com")
    assert client.login(email="Sam@Example.COM", password=PASSWORD)


@pytest.mark.django_db
def test_banned_customer_cannot_log_in(client):
    UserFactory(email="banned@example.com", banned=True)
    UserFactory(email="fine@example.com")
    assert not client.login(email="banned@example.com", password=PASSWORD)
    assert "_auth_user_id" not in client.session
    assert client.login(email="fine@example.com", password=PASSWORD)


@pytest.mark.django_db
def test_lifting_a_ban_restores_login(client):
    user = UserFactory(email="sam@example.com", banned=True)
    assert not client.login(email="sam@example.com", password=PASSWORD)
    user.is_banned = False
    user.save()
    assert client.login(email="sam@example.com", password=PASSWORD)


@pytest.mark.django_db
def test_create_user_stores_email_in_lower_case():
    user = get_user_model().objects.create_user(
        "Mixed.Case@Example.COM", password="s3cret-pass", first_name="Mo"
    )
    assert user.email == "mixed.case@example.com"
    assert user.check_password("s3cret-pass")
