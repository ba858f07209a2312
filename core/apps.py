"""The bottom layer: audit log, operator settings, staff groups, admin helpers."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Shared infrastructure"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_migrate

        from .groups import sync_after_migrate

        post_migrate.connect(sync_after_migrate, sender=self, dispatch_uid="fairdraw-staff-groups")
