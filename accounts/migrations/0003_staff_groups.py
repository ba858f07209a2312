"""Staff groups: "Operations" may do everything in Fairdraw's apps; "Support" may look at
everything, search, and refund tickets. Re-running is harmless (get_or_create, set).
accounts.groups keeps them in step after every later migrate (models added since)."""

from django.db import migrations

from core.groups import sync_staff_groups


def create_groups(apps, schema_editor):
    # The same idempotent function runs after every later migrate (accounts.groups), so the
    # groups also cover models added since this migration.
    sync_staff_groups(apps)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["Operations", "Support"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_auditentry"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("competitions", "0002_competition_tickets_reserved"),
        ("draws", "0002_ledger_freeze"),
        ("notifications", "0002_delivery"),
        ("tickets", "0003_ticket_refund_permission"),
        ("winners", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
