"""Spend limits: the purchase that reaches a limit succeeds, the next one is refused."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from responsible_play import limits
from responsible_play.models import SpendLimit
from tests.factories import PASSWORD, UserFactory, active_competition, operator_settings
from tests.tickets.helpers import reserve
from tickets import spending
from tickets.exceptions import SpendLimitReached
from tickets.models import Order, Ticket
from tickets.services import order_fulfil

pytestmark = pytest.mark.django_db


@pytest.fixture
def competition():
    return active_competition(ticket_price=Decimal("2.50"), max_tickets_per_user=50)


def test_order_reaching_the_limit_succeeds_and_the_next_is_refused(competition):
    user = UserFactory()
    limits.spend_limit_set(user=user, monthly_limit=Decimal("10"))

    order = reserve(user, competition, quantity=4)  # exactly £10.00
    # Paid: a new checkout would give back an unpaid one's numbers (and its money).
    order_fulfil(order_id=order.pk)

    assert order.total == Decimal("10.00")
    with pytest.raises(SpendLimitReached) as refused:
        reserve(user, competition, quantity=1)
    assert "monthly limit of £10.00" in str(refused.value)
    assert "£0.00 more this month" in str(refused.value)
    assert Order.objects.filter(user=user).count() == 1
    assert Ticket.objects.filter(user=user).count() == 4


def test_message_says_how_much_is_left(competition):
    user = UserFactory()
    limits.spend_limit_set(user=user, monthly_limit=Decimal("25"))
    order_fulfil(order_id=reserve(user, competition, quantity=8).pk)  # £20.00

    with pytest.raises(SpendLimitReached) as refused:
        reserve(user, competition, quantity=4)

    assert str(refused.value) == (
        "This order (£10.00) would take you over your monthly limit of £25.00: "
        "you can spend £5.00 more this month."
    )


def test_zero_limit_refuses_any_purchase(competition):
    user = UserFactory()
    limits.spend_limit_set(user=user, monthly_limit=Decimal("0"))

    with pytest.raises(SpendLimitReached, match=r"£0\.00"):
        reserve(user, competition, quantity=1)
    assert not Order.objects.filter(user=user).exists()


def test_lowering_is_immediate_raising_waits_for_the_cooling_off():
    operator_settings(limit_cooling_off_hours=24)
    user = UserFactory()
    t0 = timezone.now()
    limits.spend_limit_set(user=user, monthly_limit=Decimal("50"), now=t0)
    assert limits.monthly_limit_for(user, t0) == Decimal("50")

    lowered = limits.spend_limit_set(user=user, monthly_limit=Decimal("20"), now=t0)
    assert lowered.effective_at == t0
    assert limits.monthly_limit_for(user, t0) == Decimal("20")

    raised = limits.spend_limit_set(user=user, monthly_limit=Decimal("100"), now=t0)
    assert raised.effective_at == t0 + timedelta(hours=24)
    assert limits.monthly_limit_for(user, t0 + timedelta(hours=23, minutes=59)) == Decimal("20")
    assert limits.pending_limit_for(user, t0) == raised
    assert limits.monthly_limit_for(user, t0 + timedelta(hours=24)) == Decimal("100")


def test_removing_the_limit_also_waits(settings):
    user = UserFactory()
    t0 = timezone.now()
    limits.spend_limit_set(user=user, monthly_limit=Decimal("30"), now=t0)
    limits.spend_limit_set(user=user, monthly_limit=None, now=t0)

    assert limits.monthly_limit_for(user, t0 + timedelta(hours=1)) == Decimal("30")
    assert limits.monthly_limit_for(user, t0 + timedelta(hours=24)) is None


def test_a_later_lowering_cancels_a_pending_raise():
    user = UserFactory()
    t0 = timezone.now()
    limits.spend_limit_set(user=user, monthly_limit=Decimal("10"), now=t0)
    limits.spend_limit_set(user=user, monthly_limit=Decimal("500"), now=t0)
    limits.spend_limit_set(user=user, monthly_limit=Decimal("5"), now=t0 + timedelta(hours=1))

    assert limits.monthly_limit_for(user, t0 + timedelta(days=2)) == Decimal("5")
    assert limits.pending_limit_for(user, t0 + timedelta(hours=1)) is None
    # Every request is kept: the history the code of practice asks for.
    assert SpendLimit.objects.filter(user=user).count() == 3
    assert SpendLimit.objects.filter(user=user, cancelled_at__isnull=False).count() == 1


def test_negative_limit_refused():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        limits.spend_limit_set(user=UserFactory(), monthly_limit=Decimal("-1"))


def test_operator_cap_applies_without_a_personal_limit(competition):
    operator_settings(monthly_spend_cap=Decimal("5.00"))
    user = UserFactory()
    order_fulfil(order_id=reserve(user, competition, quantity=2).pk)  # £5.00: exactly the cap

    with pytest.raises(SpendLimitReached) as refused:
        reserve(user, competition, quantity=1)
    assert "£5.00 we set for every customer" in str(refused.value)


def test_lower_of_cap_and_personal_limit_wins(competition):
    operator_settings(monthly_spend_cap=Decimal("100.00"))
    user = UserFactory()
    limits.spend_limit_set(
        user=user, monthly_limit=Decimal("200"), now=timezone.now() - timedelta(days=2)
    )
    assert spending.spend_position(user).limit == Decimal("100.00")
    operator_settings(monthly_spend_cap=None)
    assert spending.spend_position(user).limit == Decimal("200")


def test_refunds_free_headroom_and_last_month_does_not_count(competition):
    user = UserFactory()
    limits.spend_limit_set(user=user, monthly_limit=Decimal("10"))
    order = reserve(user, competition, quantity=4)
    now = timezone.now()
    Order.objects.filter(pk=order.pk).update(
        status=Order.Status.PARTIALLY_REFUNDED, paid_at=now, amount_refunded=Decimal("2.50")
    )
    assert spending.monthly_spend(user, now) == Decimal("7.50")

    reserve(user, competition, quantity=1)  # fits in the refunded £2.50

    start, _ = limits.month_bounds(now)
    Order.objects.filter(user=user).update(
        status=Order.Status.PAID, paid_at=start - timedelta(seconds=1), amount_refunded=0
    )
    assert spending.monthly_spend(user, now) == Decimal("0")


def test_expired_reservations_do_not_count(competition):
    user = UserFactory()
    t0 = timezone.now()
    reserve(user, competition, quantity=2, now=t0)
    assert spending.monthly_spend(user, t0) == Decimal("5.00")
    assert spending.monthly_spend(user, t0 + timedelta(minutes=16)) == Decimal("0")


def test_month_follows_uk_time():
    # 00:30 BST on 1 June is still 31 May in UTC; it belongs to June.
    moment = timezone.make_aware(datetime(2026, 6, 1, 0, 30))
    start, end = limits.month_bounds(moment)
    assert timezone.localtime(start) == moment.replace(minute=0, hour=0)
    assert start.utcoffset() == timedelta(hours=1)
    assert timezone.localtime(end).date().isoformat() == "2026-07-01"


def test_postal_entries_are_not_limited(competition):
    from tickets.services import postal_entry_add

    user = UserFactory()
    limits.spend_limit_set(user=user, monthly_limit=Decimal("0"))
    postal_entry_add(competition=competition, user=user)

    assert Ticket.objects.filter(user=user).count() == 1


# ---------------------------------------------------------------- the "My limits" page


def test_limits_page_needs_login(client):
    response = client.get(reverse("accounts:limits"))
    assert response.status_code == 302


def test_limits_page_shows_limit_spend_cap_and_help(client, competition):
    user = UserFactory()
    limits.spend_limit_set(user=user, monthly_limit=Decimal("40"))
    reserve(user, competition, quantity=2)
    client.login(username=user.email, password=PASSWORD)

    page = client.get(reverse("accounts:limits")).content.decode()

    assert "£40.00" in page
    assert "£5.00" in page  # spent this month
    assert "£1,000.00" in page  # the operator cap
    assert "0808 8020 133" in page and "BeGambleAware" in page and "Gambling Therapy" in page


def test_form_lowers_at_once_and_raise_is_shown_as_pending(client):
    user = UserFactory()
    client.login(username=user.email, password=PASSWORD)
    url = reverse("accounts:limits")

    response = client.post(url, {"monthly_limit": "0"})
    assert response.status_code == 302
    assert limits.monthly_limit_for(user) == Decimal("0")

    client.post(url, {"monthly_limit": "75"})
    assert limits.monthly_limit_for(user) == Decimal("0")
    page = client.get(url).content.decode()
    assert "£75.00" in page and "takes effect" in page


def test_form_blank_means_no_personal_limit_and_rejects_negative(client):
    user = UserFactory()
    client.login(username=user.email, password=PASSWORD)
    url = reverse("accounts:limits")

    response = client.post(url, {"monthly_limit": "-5"})
    assert response.status_code == 200
    assert not SpendLimit.objects.filter(user=user).exists()

    client.post(url, {"monthly_limit": ""})
    assert SpendLimit.objects.get(user=user).monthly_limit is None


def test_signup_leads_to_the_limits_prompt(client):
    from tests.accounts.test_views import sign_up_and_confirm

    # The e-mailed link logs the new customer in on the prompt.
    response = sign_up_and_confirm(
        client,
        first_name="Ada",
        last_name="Lovelace",
        email="ada@example.com",
        password1="a-long-pass-phrase",
        password2="a-long-pass-phrase",
    )
    assert response.status_code == 302
    assert response.url == reverse("accounts:limits") + "?welcome=1"
    page = client.get(response.url).content.decode()
    assert "Set a monthly limit" in page


def test_checkout_suggests_a_limit_before_the_first_purchase(client, competition):
    from tests.tickets.test_views import add

    user = UserFactory()
    client.login(username=user.email, password=PASSWORD)
    add(client, competition, quantity=1)
    assert (
        "set a monthly spending limit" in client.get(reverse("tickets:checkout")).content.decode()
    )

    limits.spend_limit_set(user=user, monthly_limit=Decimal("20"))
    assert (
        "set a monthly spending limit"
        not in client.get(reverse("tickets:checkout")).content.decode()
    )
