"""The operator settings in admin: one row edited in place, changed by Operations (audited),
seen but not changed by Support."""

from decimal import Decimal

import pytest
from django.urls import reverse

from core.models import OperatorSettings
from tests.backoffice.conftest import audit_entries, changelist, messages_of

pytestmark = pytest.mark.django_db

CHANGE = reverse("admin:core_operatorsettings_change", args=[1])


def form_values(**changes) -> dict:
    row = OperatorSettings.current()
    values = {
        "monthly_spend_cap": row.monthly_spend_cap or "",
        "limit_cooling_off_hours": row.limit_cooling_off_hours,
        "credit_card_monthly_cap": row.credit_card_monthly_cap,
        "min_open_clear_days": row.min_open_clear_days,
        "skill_warning_wrong_percent": row.skill_warning_wrong_percent,
        "skill_warning_min_answers": row.skill_warning_min_answers,
        "harm_entries_per_day": row.harm_entries_per_day,
        "harm_spend_share_percent": row.harm_spend_share_percent,
        "harm_limit_raises": row.harm_limit_raises,
        "harm_declined_payments": row.harm_declined_payments,
        "complaint_response_days": row.complaint_response_days,
        "complaint_resolution_days": row.complaint_resolution_days,
    }
    if row.require_age_verification:
        values["require_age_verification"] = "on"
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


def test_the_list_goes_straight_to_the_one_row(operations):
    assert not OperatorSettings.objects.exists()
    response = operations.get(changelist("core.operatorsettings"))
    assert response.status_code == 302 and response.url == CHANGE
    page = operations.get(CHANGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Monthly spend cap per customer" in html
    assert "Require age verification before the first purchase" in html
    assert "Save and add another" not in html
    assert "Delete" not in html
    assert OperatorSettings.objects.count() == 1


def test_nothing_can_be_added_or_deleted(operations):
    OperatorSettings.ensure()
    assert operations.get(reverse("admin:core_operatorsettings_add")).status_code == 403
    delete = reverse("admin:core_operatorsettings_delete", args=[1])
    assert operations.post(delete, {"post": "yes"}).status_code == 403
    assert OperatorSettings.objects.count() == 1


def test_operations_change_a_setting_and_it_is_audited(operations, operations_user):
    response = operations.post(
        CHANGE, form_values(monthly_spend_cap="400.00", require_age_verification="on")
    )
    assert response.status_code == 302 and response.url == CHANGE
    row = OperatorSettings.current()
    assert row.monthly_spend_cap == Decimal("400.00")
    assert row.require_age_verification is True
    assert row.updated_by == operations_user
    [entry] = audit_entries("operator_settings.update")
    assert entry.actor == operations_user
    assert entry.before == {"monthly_spend_cap": "1000.00", "require_age_verification": False}
    assert entry.after == {"monthly_spend_cap": "400.00", "require_age_verification": True}
    page = operations.get(CHANGE).content.decode()
    assert "1 change in the audit log" in page
    assert any("changed successfully" in m for m in messages_of(response))


def test_a_bad_value_is_shown_beside_its_field_and_nothing_is_saved(operations):
    response = operations.post(
        CHANGE,
        form_values(
            limit_cooling_off_hours="2", complaint_resolution_days="3", harm_spend_share_percent="0"
        ),
    )
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "must never take effect at once" in form.errors["limit_cooling_off_hours"][0]
    assert "at least 5 days" in form.errors["complaint_resolution_days"][0]
    assert form.errors["harm_spend_share_percent"] == ["Enter a share from 1% to 100%."]
    assert not form.non_field_errors()  # no bare database-constraint message besides
    assert OperatorSettings.current().limit_cooling_off_hours == 24
    assert audit_entries("operator_settings.update") == []


def test_support_can_look_but_not_change(support):
    assert support.get(changelist("core.operatorsettings")).url == CHANGE
    page = support.get(CHANGE)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="monthly_spend_cap"' not in html  # read-only
    assert "1,000.00" in html or "1000.00" in html
    response = support.post(CHANGE, form_values(monthly_spend_cap="1.00"))
    assert response.status_code == 403
    assert OperatorSettings.current().monthly_spend_cap == Decimal("1000.00")


def test_a_customer_never_reaches_it(customer_client):
    response = customer_client.get(CHANGE)
    assert response.status_code == 302 and "/admin/login/" in response.url
