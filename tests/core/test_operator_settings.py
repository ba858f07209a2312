"""The operator's settings: one row, changed only through the audited service, read afresh by
the rules that depend on them (monthly cap, cooling-off, minimum open time)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from core.models import AuditEntry, OperatorSettings
from core.operator import operator_settings_update
from responsible_play import limits
from tests.factories import UserFactory, active_competition
from tests.tickets.helpers import reserve
from tickets.exceptions import SpendLimitReached
from tickets.models import Order
from tickets.services import order_fulfil

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops():
    user = UserFactory(is_staff=True, email="ops@fairdraw.example")
    user.groups.add(Group.objects.get(name="Operations"))
    return user


def test_first_use_takes_the_environment_defaults(settings):
    settings.FAIRDRAW_OPERATOR_MONTHLY_CAP = "750"
    settings.FAIRDRAW_LIMIT_COOLING_OFF_HOURS = 48
    settings.FAIRDRAW_CREDIT_CARD_MONTHLY_CAP = "200.00"
    row = OperatorSettings.current()
    assert row.pk == 1
    assert row.monthly_spend_cap == Decimal("750.00")
    assert row.limit_cooling_off_hours == 48
    assert row.credit_card_monthly_cap == Decimal("200.00")
    # Reading never writes (purchases read it under their locks) ...
    assert not OperatorSettings.objects.exists()
    # ... and once staff have saved the settings, the row is the truth, not the environment.
    OperatorSettings.ensure()
    settings.FAIRDRAW_OPERATOR_MONTHLY_CAP = "10"
    assert limits.operator_cap() == Decimal("750.00")
    assert OperatorSettings.objects.count() == 1


def test_update_saves_and_audits_only_what_changed(ops):
    before_cap = OperatorSettings.current().monthly_spend_cap
    row = operator_settings_update(
        by=ops, monthly_spend_cap=Decimal("500"), limit_cooling_off_hours=24
    )
    assert row.monthly_spend_cap == Decimal("500.00")
    assert row.updated_by == ops
    [entry] = AuditEntry.objects.filter(action="operator_settings.update")
    assert entry.actor == ops
    assert entry.object_repr == "Operator settings"
    assert entry.before == {"monthly_spend_cap": str(before_cap)}
    assert entry.after == {"monthly_spend_cap": "500.00"}


def test_an_update_that_changes_nothing_writes_nothing(ops):
    current = OperatorSettings.current()
    operator_settings_update(by=ops, limit_cooling_off_hours=current.limit_cooling_off_hours)
    assert not AuditEntry.objects.filter(action="operator_settings.update").exists()


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"monthly_spend_cap": Decimal("-1")}, "monthly_spend_cap", "can’t be negative"),
        ({"limit_cooling_off_hours": 23}, "limit_cooling_off_hours", "from 24 hours"),
        ({"credit_card_monthly_cap": None}, "credit_card_monthly_cap", "0.00 to refuse"),
        ({"harm_spend_share_percent": 0}, "harm_spend_share_percent", "1% to 100%"),
        ({"harm_spend_share_percent": 101}, "harm_spend_share_percent", "1% to 100%"),
        ({"harm_entries_per_day": 0}, "harm_entries_per_day", "every customer"),
        ({"min_open_clear_days": 91}, "min_open_clear_days", "0 (no minimum) to 90"),
        (
            {"complaint_response_days": 10, "complaint_resolution_days": 7},
            "complaint_resolution_days",
            "at least 10 days",
        ),
    ],
)
def test_invalid_values_are_refused_with_a_clear_message(ops, changes, field, says):
    before = OperatorSettings.current()
    with pytest.raises(ValidationError) as refused:
        operator_settings_update(by=ops, **changes)
    assert says in " ".join(refused.value.message_dict[field])
    after = OperatorSettings.current()
    assert [getattr(after, f) for f in changes] == [getattr(before, f) for f in changes]
    assert not AuditEntry.objects.filter(action="operator_settings.update").exists()


def test_boundaries_are_accepted(ops):
    row = operator_settings_update(
        by=ops,
        monthly_spend_cap=None,
        limit_cooling_off_hours=24,
        credit_card_monthly_cap=Decimal("0"),
        harm_spend_share_percent=100,
        min_open_clear_days=0,
        complaint_response_days=28,
        complaint_resolution_days=28,
    )
    assert row.monthly_spend_cap is None and row.credit_card_monthly_cap == Decimal("0.00")


def test_only_operations_and_superusers_may_change_them(ops):
    support = UserFactory(is_staff=True)
    support.groups.add(Group.objects.get(name="Support"))
    for outsider in (support, UserFactory()):
        with pytest.raises(PermissionDenied):
            operator_settings_update(by=outsider, require_age_verification=True)
    assert not OperatorSettings.current().require_age_verification

    boss = UserFactory(is_staff=True, is_superuser=True)
    operator_settings_update(by=boss, require_age_verification=True)
    operator_settings_update(by=ops, require_age_verification=False)
    assert AuditEntry.objects.filter(action="operator_settings.update").count() == 2


def test_unknown_setting_is_a_programming_error(ops):
    with pytest.raises(TypeError):
        operator_settings_update(by=ops, updated_at=timezone.now())


def test_a_lowered_cap_binds_the_very_next_purchase(ops):
    competition = active_competition(ticket_price=Decimal("5.00"), max_tickets_per_user=50)
    customer = UserFactory()
    order_fulfil(order_id=reserve(customer, competition, quantity=2).pk)  # £10.00 paid

    operator_settings_update(by=ops, monthly_spend_cap=Decimal("12.00"))

    with pytest.raises(SpendLimitReached, match=r"£12\.00 we set for every customer"):
        reserve(customer, competition, quantity=1)
    assert Order.objects.filter(user=customer).count() == 1


def test_the_cooling_off_follows_the_setting(ops):
    operator_settings_update(by=ops, limit_cooling_off_hours=72)
    customer = UserFactory()
    t0 = timezone.now()
    limits.spend_limit_set(user=customer, monthly_limit=Decimal("10"), now=t0)
    raised = limits.spend_limit_set(user=customer, monthly_limit=Decimal("50"), now=t0)
    assert raised.effective_at == t0 + timedelta(hours=72)
