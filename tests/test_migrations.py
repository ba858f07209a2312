"""Data survives "one room per concern": rows written while the audit log, operator settings,
spend limits, complaints and harm signals still belonged to `accounts` are read back through
their new apps, with the same values, and group grants follow the content types.

The move is state-only (accounts 0006 and each new app's 0001 keep the tables), so a slip
there (a dropped table, a content type left behind) would lose records the operator must keep.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE_THE_MOVE = [
    ("accounts", "0005_operator_settings_complaints_harm"),
    ("core", None),
    ("complaints", None),
    ("harm_signals", None),
    ("responsible_play", None),
]
MOVED = {
    "auditentry": "core",
    "operatorsettings": "core",
    "spendlimit": "responsible_play",
    "complaint": "complaints",
    "complaintevent": "complaints",
    "harmflag": "harm_signals",
    "harmaction": "harm_signals",
}


def migrate(targets):
    """Migrate to `targets`; the models as they are there (every applied migration)."""
    return MigrationExecutor(connection).migrate(targets).apps


def migrate_to_latest():
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()


def write_rows_before_the_move(apps) -> dict:
    """One row of each moved model, through the models as they were in accounts 0005."""
    User = apps.get_model("accounts", "User")
    ContentTypeThen = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    GroupThen = apps.get_model("auth", "Group")
    now = timezone.now().replace(microsecond=0)

    customer = User.objects.create(email="moved@example.com", first_name="Moira", password="!")
    staff = User.objects.create(
        email="staff@example.com", first_name="Sam", password="!", is_staff=True
    )
    settings_row = apps.get_model("accounts", "OperatorSettings").objects.create(
        pk=1, monthly_spend_cap=Decimal("300.00"), harm_entries_per_day=42, updated_by=staff
    )
    limit = apps.get_model("accounts", "SpendLimit").objects.create(
        user=customer,
        monthly_limit=Decimal("75.50"),
        requested_at=now,
        effective_at=now + timedelta(hours=24),
        created_by=customer,
    )
    complaint = apps.get_model("accounts", "Complaint").objects.create(
        reference="C-MOVED1",
        name="Moira",
        email="moved@example.com",
        category="refund",
        message="Where is my refund?",
        status="responded",
        created_at=now,
        first_response_at=now + timedelta(hours=2),
        response_due_at=now + timedelta(days=3),
        resolution_due_at=now + timedelta(days=56),
        user=customer,
        assigned_to=staff,
    )
    event = apps.get_model("accounts", "ComplaintEvent").objects.create(
        complaint=complaint, at=now, kind="response", message="On its way.", actor=staff
    )
    flag = apps.get_model("accounts", "HarmFlag").objects.create(
        user=customer,
        rule="entries_per_day",
        status="actioned",
        detail="120 entries on 1 Dec",
        value=Decimal("120"),
        threshold=Decimal("100"),
        closed_at=now,
        closed_by=staff,
    )
    action = apps.get_model("accounts", "HarmAction").objects.create(
        user=customer, flag=flag, kind="note", note="Called; agreed a break.", actor=staff
    )
    complaint_type, _ = ContentTypeThen.objects.get_or_create(
        app_label="accounts", model="complaint"
    )
    entry = apps.get_model("accounts", "AuditEntry").objects.create(
        at=now,
        actor=staff,
        action="complaint.respond",
        content_type=complaint_type,
        object_id=str(complaint.pk),
        object_repr="C-MOVED1",
        before={"status": "open"},
        after={"status": "responded"},
        note="first reply",
    )
    permission, _ = Permission.objects.get_or_create(
        content_type=complaint_type,
        codename="change_complaint",
        defaults={"name": "Can change complaint"},
    )
    group = GroupThen.objects.create(name="Complaints desk (migration test)")
    group.permissions.add(permission)
    return {
        "customer": customer.pk,
        "staff": staff.pk,
        "settings": settings_row.pk,
        "limit": limit.pk,
        "complaint": complaint.pk,
        "event": event.pk,
        "flag": flag.pk,
        "action": action.pk,
        "entry": entry.pk,
        "now": now,
    }


@pytest.mark.django_db(transaction=True)
def test_rows_written_before_the_move_are_read_through_the_new_apps():
    from complaints.models import Complaint, ComplaintEvent
    from core.models import AuditEntry, OperatorSettings
    from harm_signals.models import HarmAction, HarmFlag
    from responsible_play.models import SpendLimit

    try:
        old_apps = migrate(BEFORE_THE_MOVE)
        # The moved models were accounts' then.
        assert old_apps.get_model("accounts", "Complaint")._meta.db_table == "accounts_complaint"
        ids = write_rows_before_the_move(old_apps)
    finally:
        migrate_to_latest()

    settings_row = OperatorSettings.objects.get(pk=1)
    assert settings_row.monthly_spend_cap == Decimal("300.00")
    assert settings_row.harm_entries_per_day == 42
    assert settings_row.updated_by_id == ids["staff"]

    limit = SpendLimit.objects.get(pk=ids["limit"])
    assert (limit.user_id, limit.created_by_id) == (ids["customer"], ids["customer"])
    assert limit.monthly_limit == Decimal("75.50")
    assert limit.effective_at == ids["now"] + timedelta(hours=24)

    complaint = Complaint.objects.get(pk=ids["complaint"])
    assert complaint.reference == "C-MOVED1"
    assert (complaint.category, complaint.status) == ("refund", "responded")
    assert complaint.first_response_at == ids["now"] + timedelta(hours=2)
    assert complaint.message == "Where is my refund?"
    assert (complaint.user_id, complaint.assigned_to_id) == (ids["customer"], ids["staff"])
    event = ComplaintEvent.objects.get(pk=ids["event"])
    assert (event.complaint_id, event.kind, event.message) == (
        complaint.pk,
        "response",
        "On its way.",
    )
    assert list(complaint.events.all()) == [event]

    flag = HarmFlag.objects.get(pk=ids["flag"])
    assert (flag.user_id, flag.rule, flag.status) == (
        ids["customer"],
        "entries_per_day",
        "actioned",
    )
    assert (flag.value, flag.threshold) == (Decimal("120"), Decimal("100"))
    assert (flag.closed_at, flag.closed_by_id) == (ids["now"], ids["staff"])
    action = HarmAction.objects.get(pk=ids["action"])
    assert (action.flag_id, action.kind, action.note) == (
        flag.pk,
        "note",
        "Called; agreed a break.",
    )

    entry = AuditEntry.objects.get(pk=ids["entry"])
    assert (entry.action, entry.note, entry.actor_id) == (
        "complaint.respond",
        "first reply",
        ids["staff"],
    )
    assert (entry.before, entry.after) == ({"status": "open"}, {"status": "responded"})
    # The entry's content type followed the model: it still finds the complaint.
    assert entry.content_type.model_class() is Complaint
    assert entry.content_type.get_object_for_this_type(pk=entry.object_id) == complaint

    # Content types followed to the new app labels; none is left behind in accounts.
    for model, app_label in MOVED.items():
        assert ContentType.objects.filter(app_label=app_label, model=model).exists(), model
        assert not ContentType.objects.filter(app_label="accounts", model=model).exists(), model
    # So the group's grant is now on complaints.Complaint, and members hold it.
    group = Group.objects.get(name="Complaints desk (migration test)")
    assert [(p.content_type.app_label, p.codename) for p in group.permissions.all()] == [
        ("complaints", "change_complaint")
    ]
    member = complaint.assigned_to
    member.groups.add(group)
    assert member.has_perm("complaints.change_complaint")
