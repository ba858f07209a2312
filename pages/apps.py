"""Top layer: pages that span domains (home, account dashboard, How we comply)."""

from django.apps import AppConfig


class PagesConfig(AppConfig):
    name = "pages"
    verbose_name = "Pages"
    default_auto_field = "django.db.models.BigAutoField"
