"""The project itself as an app: registers the deploy checks and says at start-up which
optional services are off, one line each, so an operator never has to guess."""

import logging

from django.apps import AppConfig
from django.conf import settings

logger = logging.getLogger("fairdraw.startup")


class FairdrawConfig(AppConfig):
    name = "config"
    label = "fairdraw_config"
    verbose_name = "Fairdraw"

    def ready(self):
        from . import checks  # noqa: F401 - registers the deploy checks

        if settings.FAIRDRAW_DEV_TOOLS:
            return  # development: every provider is expected to be off
        for line in integrations_off():
            logger.info(line)


def integrations_off() -> list[str]:
    lines = []
    if not settings.KLAVIYO_PRIVATE_API_KEY:
        lines.append(
            "Klaviyo is off (no KLAVIYO_PRIVATE_API_KEY): marketing events are only logged."
        )
    if not (
        settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.TWILIO_FROM_NUMBER
    ):
        lines.append(
            "Twilio is off (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM_NUMBER not all "
            "set): text messages are only logged."
        )
    if not settings.AWS_STORAGE_BUCKET_NAME:
        lines.append(
            f"S3 is off (no AWS_STORAGE_BUCKET_NAME): uploads are stored in {settings.MEDIA_ROOT} "
            f"and served by the app at {settings.MEDIA_URL} (one machine only)."
        )
    if not settings.SENTRY_DSN:
        lines.append("Sentry is off (no SENTRY_DSN): errors are only logged.")
    return lines
