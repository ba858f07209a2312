"""Customer complaints: references, replies, resolution within the operator's targets."""

from django.apps import AppConfig


class ComplaintsConfig(AppConfig):
    name = "complaints"
    verbose_name = "Complaints"
    default_auto_field = "django.db.models.BigAutoField"
