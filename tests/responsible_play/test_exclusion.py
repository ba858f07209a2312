"""Take a break, self-exclusion and closing an account: no purchases, no marketing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts import services as account_services
from accounts.models import ExclusionKind
from core.models import AuditEntry
from notifications.models import Notification
from notifications.services import _refuse_without_consent
from responsible_play import services
from tests.factories import PASSWORD, UserFactory, active_competition
from tests.tickets.helpers import reserve
from tickets.exceptions import NotEligible
from tickets.models import Order

pytestmark = pytest.mark.django_db


@pytest.fixture
def competition():
    return active_competition(ticket_price=Decimal("1.00"))


def test_customer_on_a_break_cannot_buy_until_it_ends(competition):
    user = UserFactory()
    t0 = timezone.now()
    user = services.user_take_break(user=user, days=1, now=t0)

    with pytest.raises(NotEligible, match=r"taking a break.*until"):
        reserve(user, competition, quantity=1, now=t0 + timedelta(hours=23, minutes=59))
    assert not Order.objects.filter(user=user).exists()

    reserve(user, competition, quantity=1, now=t0 + timedelta(days=1))
    assert Order.objects.filter(user=user).count() == 1


def test_self_excluded_customer_cannot_buy_and_is_told_the_end_date(competition):
    user = services.user_self_exclude(user=UserFactory(), months=6)
    until = timezone.localtime(user.excluded_until)

    with pytest.raises(NotEligible) as refused:
        reserve(user, competition, quantity=1)
    assert "self-excluded" in str(refused.value)
    assert until.strftime("%-d %B %Y") in str(refused.value)
    assert not user.can_purchase


def test_self_exclusion_lasts_six_calendar_months():
    t0 = timezone.make_aware(timezone.datetime(2026, 8, 31, 12, 0))
    user = services.user_self_exclude(user=UserFactory(), months=6, now=t0)
    assert timezone.localtime(user.excluded_until).date().isoformat() == "2027-02-28"


def test_minimum_six_months_enforced():
    with pytest.raises(ValidationError):
        services.user_self_exclude(user=UserFactory(), months=5)


@pytest.mark.parametrize("days", [0, 43])
def test_break_length_enforced(days):
    with pytest.raises(ValidationError):
        services.user_take_break(user=UserFactory(), days=days)


def test_closed_account_cannot_buy(competition):
    user = services.user_close_account(user=UserFactory())
    assert user.exclusion_kind == ExclusionKind.CLOSED
    with pytest.raises(NotEligible, match="closed"):
        reserve(user, competition, quantity=1, now=timezone.now() + timedelta(days=3650))


def test_exclusion_withdraws_marketing_consent_and_tells_klaviyo():
    user = UserFactory(marketing_consent=True, marketing_consent_at=timezone.now())

    user = services.user_self_exclude(user=user, months=12)

    user.refresh_from_db()
    assert not user.marketing_consent and user.marketing_consent_at is None
    update = Notification.objects.get(user=user, kind=Notification.Kind.PROFILE_UPDATED)
    assert update.payload["subscribed"] is False
    assert AuditEntry.objects.filter(action="user.self_exclusion", object_id=str(user.pk)).exists()


def test_excluded_customer_cannot_opt_back_in_to_marketing():
    user = services.user_take_break(user=UserFactory(), days=7)
    with pytest.raises(ValidationError):
        account_services.user_update_profile(
            user=user, first_name="A", last_name="B", phone="", marketing_consent=True
        )


def test_marketing_refused_at_send_time_while_excluded():
    user = UserFactory(marketing_consent=True, marketing_consent_at=timezone.now())
    queued = Notification(
        user=user,
        kind=Notification.Kind.COMPETITION_ENTERED,
        channel=Notification.Channel.KLAVIYO,
        recipient=user.email,
        payload={},
    )
    assert _refuse_without_consent(queued) == ""
    # Even if consent were somehow still on, an exclusion in force stops the send.
    user.exclusion_kind = ExclusionKind.BREAK
    user.excluded_until = timezone.now() + timedelta(days=1)
    assert "break" in _refuse_without_consent(queued)


def test_exclusion_cannot_be_shortened():
    user = services.user_self_exclude(user=UserFactory(), months=6)
    with pytest.raises(ValidationError):
        services.user_take_break(user=user, days=7)
    longer = services.user_self_exclude(user=user, months=12)
    assert longer.excluded_until > user.excluded_until


def test_exclusion_page_takes_a_break(client):
    user = UserFactory()
    client.login(username=user.email, password=PASSWORD)
    url = reverse("accounts:exclusion")
    assert "Take a break" in client.get(url).content.decode()

    unconfirmed = client.post(url, {"kind": "break", "days": "7"})
    assert unconfirmed.status_code == 200
    user.refresh_from_db()
    assert not user.exclusion_kind

    response = client.post(url, {"kind": "break", "days": "7", "confirm": "on"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.exclusion_kind == ExclusionKind.BREAK
    assert "can’t be cancelled early" in client.get(url).content.decode()


def test_exclusion_page_refuses_less_than_six_months(client):
    user = UserFactory()
    client.login(username=user.email, password=PASSWORD)
    response = client.post(
        reverse("accounts:exclusion"), {"kind": "self_exclusion", "months": "3", "confirm": "on"}
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert not user.exclusion_kind
