"""Spending limits, breaks and self-exclusion."""

from django.apps import AppConfig


class ResponsiblePlayConfig(AppConfig):
    name = "responsible_play"
    verbose_name = "Responsible play"
    default_auto_field = "django.db.models.BigAutoField"
