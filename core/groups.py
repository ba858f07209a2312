"""Staff groups: "Operations" may do everything in Fairdraw's apps; "Support" may look at
everything, search, refund tickets, work on harm flags (notes, close/reopen, and from a flag
set the customer's spend limit or impose a break) and handle complaints (reply, note, resolve,
escalate, reopen, assign: complaints.admin checks "change complaint").

Kept in step after every `migrate` (post_migrate), so a model added later is covered too."""

from django.apps import apps as global_apps
from django.conf import settings
from django.contrib.auth.management import create_permissions

# Every Fairdraw app, bottom layer first (config.layers.LAYERS, through settings).
FAIRDRAW_APPS = tuple(settings.FAIRDRAW_APPS)
SUPPORT_EXTRA = (
    ("tickets", "refund_ticket"),
    ("harm_signals", "change_harmflag"),
    ("complaints", "change_complaint"),
)


def sync_staff_groups(apps) -> None:
    """Create or update both groups. Idempotent (get_or_create, set)."""
    # Permissions are created per app by auth's own post_migrate handler, which may not have
    # reached every app yet: make sure they all exist first.
    for app_config in apps.get_app_configs():
        saved = getattr(app_config, "models_module", None)  # None on migration stubs
        app_config.models_module = saved or True
        try:
            create_permissions(app_config, apps=apps, verbosity=0)
        finally:
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


def sync_after_migrate(sender, apps=None, **kwargs) -> None:
    """post_migrate receiver. `flush` (between transactional tests) sends it without `apps`."""
    sync_staff_groups(apps or global_apps)
