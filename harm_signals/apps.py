"""Customers flagged for review by the harm-signal rules, and staff's follow-up."""

from django.apps import AppConfig


class HarmSignalsConfig(AppConfig):
    name = "harm_signals"
    verbose_name = "Harm signals"
    default_auto_field = "django.db.models.BigAutoField"
