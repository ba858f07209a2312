"""A date of birth must be one a living adult can have: 18 or over (its own tests in
test_services.py) and not older than FAIRDRAW_MAXIMUM_AGE (year 1 is a typing slip, and would
pass any age check). The rule is accounts.services.check_of_age, used by every form."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.forms import ProfileForm, SignUpForm
from accounts.models import User
from accounts.services import check_of_age, user_update_profile
from tests.accounts.test_views import signup_data
from tests.factories import UserFactory

TODAY = date(2026, 6, 15)


def test_year_one_and_other_impossible_ages_are_refused_with_a_clear_message():
    for born in (date(1, 1, 1), date(1899, 12, 31), date(1905, 6, 15)):
        with pytest.raises(ValidationError) as refused:
            check_of_age(born, TODAY)
        assert refused.value.code == "implausible"
        assert f"Check the year of your date of birth: {born.year}" in refused.value.messages[0]


def test_the_oldest_plausible_and_an_ordinary_adult_are_accepted():
    check_of_age(date(1905, 6, 16), TODAY)  # 120 until tomorrow
    check_of_age(date(1990, 5, 17), TODAY)


@pytest.mark.django_db
def test_sign_up_with_year_one_is_refused_and_opens_no_account(client):
    form = SignUpForm(signup_data(date_of_birth="0001-01-01"))
    assert not form.is_valid()
    assert "Check the year of your date of birth" in form.errors["date_of_birth"][0]

    response = client.post(reverse("accounts:signup"), signup_data(date_of_birth="0001-01-01"))
    assert response.status_code == 200
    assert "Check the year of your date of birth" in response.content.decode()
    assert not User.objects.exists()


@pytest.mark.django_db
def test_profile_with_year_one_is_refused_by_form_and_service():
    user = UserFactory(date_of_birth=None)
    form = ProfileForm(
        {"first_name": "A", "last_name": "B", "phone": "", "date_of_birth": "0001-01-01"},
        user=user,
    )
    assert not form.is_valid() and "date_of_birth" in form.errors

    with pytest.raises(ValidationError) as refused:
        user_update_profile(
            user=user,
            first_name="A",
            last_name="B",
            phone="",
            marketing_consent=False,
            date_of_birth=date(1, 1, 1),
        )
    assert "date_of_birth" in refused.value.message_dict
    user.refresh_from_db()
    assert user.date_of_birth is None
