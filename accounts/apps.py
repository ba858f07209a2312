from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Customers and staff"

    def ready(self):
        from .groups import sync_after_migrate

        post_migrate.connect(sync_after_migrate, sender=self, dispatch_uid="fairdraw-staff-groups")
