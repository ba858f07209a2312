"""The rules of holding an account: 18+, one account per e-mail whatever its case, a phone
number we can text, and marketing consent recorded with its time."""

from datetime import date, datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import User
from accounts.services import phone_to_e164, user_register, user_update_profile
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NOW = timezone.make_aware(datetime(2026, 6, 15, 12, 0))


def register(**overrides) -> User:
    data = {
        "email": "Sarah.Khan@Example.com",
        "password": "a-long-and-unusual-passphrase",
        "first_name": "Sarah",
        "last_name": "Khan",
        "date_of_birth": date(1990, 5, 17),
        "phone": "07700 900123",
        "marketing_consent": False,
        "now": NOW,
    }
    return user_register(**{**data, **overrides})


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("07700 900123", "+447700900123"),
        ("07700-900-123", "+447700900123"),
        ("+44 7700 900123", "+447700900123"),
        ("+44 (0)7700 900123", "+447700900123"),
        ("0044 7700 900123", "+447700900123"),
        ("447700900123", "+447700900123"),
        ("020 7946 0018", "+442079460018"),
        ("+1 415 555 2671", "+14155552671"),
    ],
)
def test_phone_numbers_are_normalised_to_e164(typed, e164):
    assert phone_to_e164(typed) == e164


@pytest.mark.parametrize(
    "typed", ["", "12345", "07700 90012", "+44 07700 900123", "phone me", "+0 123 4567 890"]
)
def test_nonsense_phone_numbers_are_refused(typed):
    with pytest.raises(ValidationError):
        phone_to_e164(typed)


def test_register_normalises_and_stores_what_was_given():
    user = register(marketing_consent=True)

    user.refresh_from_db()
    assert user.email == "sarah.khan@example.com"
    assert user.phone == "+447700900123"
    assert user.check_password("a-long-and-unusual-passphrase")
    assert user.marketing_consent and user.marketing_consent_at == NOW
    assert user.is_of_age() and user.can_purchase


def test_register_without_consent_records_no_consent_time():
    user = register()

    assert not user.marketing_consent and user.marketing_consent_at is None


def test_the_day_before_the_18th_birthday_is_too_young_and_the_day_itself_is_fine():
    with pytest.raises(ValidationError) as refused:
        register(date_of_birth=date(2008, 6, 16))
    assert "date_of_birth" in refused.value.message_dict
    assert not User.objects.exists()

    assert register(date_of_birth=date(2008, 6, 15)).pk


def test_email_is_unique_whatever_its_case():
    UserFactory(email="sarah.khan@example.com")

    with pytest.raises(ValidationError) as refused:
        register(email="SARAH.KHAN@example.com")

    assert "email" in refused.value.message_dict
    assert User.objects.count() == 1


def test_every_broken_rule_is_reported_at_once():
    with pytest.raises(ValidationError) as refused:
        register(date_of_birth=date(2015, 1, 1), phone="123", password="123")

    assert set(refused.value.message_dict) == {"date_of_birth", "phone", "password1"}


def test_profile_update_records_consent_changes_and_keeps_the_birth_date():
    user = UserFactory(date_of_birth=date(1990, 5, 17))

    user = user_update_profile(
        user=user,
        first_name=" Sam ",
        last_name="Jones",
        phone="07700 900456",
        marketing_consent=True,
        date_of_birth=date(1970, 1, 1),
        now=NOW,
    )
    assert (user.first_name, user.phone) == ("Sam", "+447700900456")
    assert user.marketing_consent_at == NOW
    assert user.date_of_birth == date(1990, 5, 17)  # fixed once set

    user = user_update_profile(
        user=user, first_name="Sam", last_name="Jones", phone="", marketing_consent=False
    )
    assert not user.marketing_consent and user.marketing_consent_at is None


def test_a_missing_birth_date_can_be_given_once_and_must_be_18_plus():
    user = UserFactory(date_of_birth=None)
    kwargs = {"user": user, "first_name": "A", "last_name": "B", "phone": "", "now": NOW}

    with pytest.raises(ValidationError):
        user_update_profile(**kwargs, marketing_consent=False, date_of_birth=date(2010, 1, 1))

    user = user_update_profile(**kwargs, marketing_consent=False, date_of_birth=date(1999, 1, 1))
    assert user.date_of_birth == date(1999, 1, 1)


def test_consent_at_sign_up_subscribes_the_klaviyo_profile():
    from notifications.models import Notification

    user = register(marketing_consent=True)
    update = Notification.objects.get(user=user, kind=Notification.Kind.PROFILE_UPDATED)
    assert update.channel == "klaviyo"
    assert update.payload["subscribed"] is True


def test_no_consent_at_sign_up_tells_klaviyo_nothing():
    from notifications.models import Notification

    user = register(marketing_consent=False)
    assert not Notification.objects.filter(user=user).exists()


def test_withdrawing_consent_unsubscribes_and_a_plain_edit_does_not_resend():
    from notifications.models import Notification

    user = register(marketing_consent=True)
    fields = {"first_name": "Ann", "last_name": "Lee", "phone": "07700 900123"}
    user_update_profile(user=user, marketing_consent=False, **fields)
    user_update_profile(user=user, marketing_consent=False, **{**fields, "first_name": "Anne"})

    updates = Notification.objects.filter(user=user, kind=Notification.Kind.PROFILE_UPDATED)
    assert [u.payload["subscribed"] for u in updates.order_by("id")] == [True, False]
