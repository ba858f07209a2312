import pytest
from django.test import Client
from django.urls import reverse

from tests.backoffice.conftest import (
    audit_entries,
    changelist,
    confirm_action,
    messages_of,
    post_action,
)
from tests.factories import PASSWORD, UserFactory
from tickets.exceptions import NotEligible
from tickets.services import postal_entry_add

pytestmark = pytest.mark.django_db


def test_operations_ban_asks_first_then_bans_and_audits(operations, operations_user, sale):
    customer = sale.customer
    first, done = confirm_action(
        operations, "accounts.user", "ban", [customer], reason="Chargeback fraud"
    )
    assert customer.email in first.content.decode()
    assert done.status_code == 302
    customer.refresh_from_db()
    assert customer.is_banned and customer.banned_at and customer.ban_reason == "Chargeback fraud"
    [entry] = audit_entries("user.ban", customer)
    assert entry.actor == operations_user
    assert entry.before["is_banned"] is False and entry.after["is_banned"] is True

    # A banned customer can neither log in nor buy.
    assert not Client().login(email=customer.email, password=PASSWORD)
    with pytest.raises(NotEligible):
        postal_entry_add(user=customer, competition=sale.competition)


def test_ban_without_a_reason_is_refused(operations, sale):
    response = post_action(operations, "accounts.user", "ban", [sale.customer], confirmed="yes")
    assert any("why" in m for m in messages_of(response))
    sale.customer.refresh_from_db()
    assert not sale.customer.is_banned
    assert audit_entries("user.ban") == []


def test_unban(operations):
    # Verifying a customer's age has its own tests (test_age_verification.py).
    customer = UserFactory(banned=True)
    post_action(operations, "accounts.user", "unban", [customer])
    customer.refresh_from_db()
    assert not customer.is_banned and customer.banned_at is None and customer.ban_reason == ""
    assert len(audit_entries("user.unban", customer)) == 1
    assert Client().login(email=customer.email, password=PASSWORD)


def test_support_can_see_users_but_not_ban_them(support, sale):
    assert support.get(changelist("accounts.user")).status_code == 200
    response = post_action(
        support, "accounts.user", "ban", [sale.customer], confirmed="yes", reason="x"
    )
    assert response.status_code == 200  # no action is offered to Support: just the list
    assert "Ban selected users" not in response.content.decode()
    sale.customer.refresh_from_db()
    assert not sale.customer.is_banned
    assert audit_entries("user.ban") == []


def test_user_page_lists_their_tickets_and_orders_in_constant_queries(operations, sale):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import correct_answer
    from tickets.services import order_record_paid

    page = reverse("admin:accounts_user_change", args=[sale.customer.pk])
    with CaptureQueriesContext(connection) as few:
        html = operations.get(page).content.decode()
    assert "All 3 tickets" in html and "All 1 orders" in html
    assert sale.order.reference in html
    assert f"?user__id__exact={sale.customer.pk}" in html

    for _ in range(4):
        order_record_paid(
            user=sale.customer,
            competition=sale.competition,
            answer=correct_answer(sale.competition),
            quantity=2,
        )
    with CaptureQueriesContext(connection) as many:
        html = operations.get(page).content.decode()
    assert "All 11 tickets" in html and "All 5 orders" in html
    assert len(many.captured_queries) == len(few.captured_queries)

    tickets = operations.get(changelist("tickets.ticket") + f"?user__id__exact={sale.customer.pk}")
    assert tickets.context["cl"].result_count == 11


def test_the_customer_page_is_the_account_admin_plus_the_cross_domain_panels():
    """accounts.admin keeps identity (forms, ban, age verification) and registers nothing;
    the back-office registers the page with the panels that read apps above accounts."""
    from django.contrib import admin

    from accounts.admin import UserAdmin
    from accounts.models import User
    from backoffice.admin import CustomerAdmin

    registered = admin.site._registry[User]
    assert type(registered) is CustomerAdmin
    assert issubclass(CustomerAdmin, UserAdmin)
    assert {"ban", "unban"} <= set(UserAdmin.actions)
    for panel in ("tickets_summary", "orders_summary", "limits_summary", "harm_summary"):
        assert not hasattr(UserAdmin, panel)
        assert panel in CustomerAdmin.readonly_fields
