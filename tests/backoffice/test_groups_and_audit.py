import importlib

import pytest
from django.apps import apps as global_apps
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from core.audit import MASK, audit_record
from core.groups import FAIRDRAW_APPS
from core.models import AuditEntry
from tests.backoffice.conftest import changelist
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def codes(group_name):
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Group.objects.get(name=group_name).permissions.select_related("content_type")
    }


def test_operations_has_every_permission_of_our_apps_and_nothing_else():
    ours = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.filter(content_type__app_label__in=FAIRDRAW_APPS)
    }
    assert codes("Operations") == ours
    assert "accounts.change_user" in ours and "tickets.refund_ticket" in ours


def test_support_may_view_everything_refund_work_harm_flags_and_complaints_only():
    support = codes("Support")
    assert "tickets.refund_ticket" in support
    assert {c for c in support if not c.split(".")[1].startswith("view_")} == {
        "tickets.refund_ticket",
        "harm_signals.change_harmflag",
        "complaints.change_complaint",
    }
    for label in ("accounts.view_user", "tickets.view_order", "winners.view_winner"):
        assert label in support


def test_the_groups_migration_can_run_again_without_duplicating():
    migration = importlib.import_module("accounts.migrations.0003_staff_groups")
    migration.create_groups(global_apps, None)
    assert Group.objects.filter(name__in=["Operations", "Support"]).count() == 2
    assert "tickets.refund_ticket" in codes("Support")


def test_audit_masks_secrets_at_any_depth_but_keeps_the_public_commitment(db):
    user = UserFactory()
    entry = audit_record(
        actor=None,
        action="test",
        obj=user,
        before={"draw_seed": "abc", "seed_commitment": "ff", "nested": [{"api_token": "t"}]},
        after={"password": "x", "Secret_Key": "y", "price": "2.50"},
    )
    entry.refresh_from_db()
    assert entry.before == {
        "draw_seed": MASK,
        "seed_commitment": "ff",
        "nested": [{"api_token": MASK}],
    }
    assert entry.after == {"password": MASK, "Secret_Key": MASK, "price": "2.50"}
    assert entry.object_id == str(user.pk) and entry.object_repr == user.email


def test_audit_log_is_read_only_for_everyone(operations, support):
    entry = audit_record(actor=None, action="user.verify", obj=UserFactory())
    for client in (operations, support):
        assert client.get(changelist("core.auditentry") + "?q=user.verify").status_code == 200
        change = reverse("admin:core_auditentry_change", args=[entry.pk])
        assert 'name="_save"' not in client.get(change).content.decode()
        assert client.post(change, {}).status_code == 403
        delete = reverse("admin:core_auditentry_delete", args=[entry.pk])
        assert client.post(delete, {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_non_staff_are_sent_to_the_login_page(customer_client):
    for url in (
        reverse("admin:index"),
        changelist("tickets.ticket"),
        reverse("admin:tickets_ticket_export"),
        reverse("admin:tickets_ticket_postal"),
        changelist("core.auditentry"),
    ):
        response = customer_client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
