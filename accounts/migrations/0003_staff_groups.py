"""Staff groups: "Operations" may do everything in Fairdraw's apps; "Support" may look at
everything, search, and refund tickets. Re-running is harmless (get_or_create, set).
accounts.groups keeps them in step after every later migrate (models added since)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

FAIRDRAW_APPS = ("accounts", "competitions", "tickets", "draws", "winners", "notifications")
SUPPORT_EXTRA = (("tickets", "refund_ticket"),)


def create_groups(apps, schema_editor):
    # Permissions are normally created after the whole migrate run (post_migrate); make sure
    # they exist now, so the groups are complete on a fresh database.
    for app_config in apps.get_app_configs():
        saved = getattr(app_config, "models_module", None)  # None on migration stubs
        app_config.models_module = saved or True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = saved

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label__in=FAIRDRAW_APPS)

    operations, _ = Group.objects.get_or_create(name="Operations")
    operations.permissions.set(ours)

    support, _ = Group.objects.get_or_create(name="Support")
    extra = [
        p.pk
        for app_label, codename in SUPPORT_EXTRA
        for p in ours.filter(content_type__app_label=app_label, codename=codename)
    ]
    support.permissions.set(ours.filter(codename__startswith="view_") | ours.filter(pk__in=extra))


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
