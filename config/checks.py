"""Deploy checks (`manage.py check --deploy`) for what money and security need.

config/settings/production.py already refuses to start without these; the checks catch
settings that were overridden afterwards (a local settings module, a test harness), so
`check --deploy` never says "no issues" for a site that would take free orders or refuse every
real payment. Each message names the environment variable to set.
"""

from django.conf import settings
from django.core.checks import Error, Tags, register

DEV_CACHES = ("locmem.LocMemCache", "dummy.DummyCache")
DEV_BROKERS = ("filesystem://", "memory://")


@register(Tags.security, deploy=True)
def check_production_services(app_configs=None, **kwargs):
    errors = []
    if not settings.STRIPE_SECRET_KEY:
        errors.append(
            Error(
                "STRIPE_SECRET_KEY is not set: checkout would have no payment provider.",
                hint="Set STRIPE_SECRET_KEY (or STRIPE_SECRET_KEY_FILE).",
                id="fairdraw.E001",
            )
        )
    if not settings.STRIPE_WEBHOOK_SECRET or settings.STRIPE_WEBHOOK_SECRET.endswith("_dev_only"):
        errors.append(
            Error(
                "STRIPE_WEBHOOK_SECRET is not set: every Stripe payment event would be refused.",
                hint="Set STRIPE_WEBHOOK_SECRET to the signing secret of the Stripe webhook.",
                id="fairdraw.E002",
            )
        )
    backend = settings.CACHES["default"]["BACKEND"]
    if backend.endswith(DEV_CACHES):
        errors.append(
            Error(
                f"CACHE_URL: the cache is {backend}, private to each process.",
                hint="Set CACHE_URL=redis://host:6379/1.",
                id="fairdraw.E003",
            )
        )
    if settings.CELERY_BROKER_URL.startswith(DEV_BROKERS):
        errors.append(
            Error(
                f"CELERY_BROKER_URL is {settings.CELERY_BROKER_URL!r}, a development broker.",
                hint="Set CELERY_BROKER_URL=redis://host:6379/0.",
                id="fairdraw.E004",
            )
        )
    if settings.FAIRDRAW_DEV_TOOLS:
        errors.append(
            Error(
                "FAIRDRAW_DEV_TOOLS is on: the test payment page and demo data are reachable.",
                hint="Use config.settings.production, which turns it off.",
                id="fairdraw.E005",
            )
        )
    errors += _receipt_key_errors()
    if settings.FAIRDRAW_BEACON != "drand":
        errors.append(
            Error(
                f"FAIRDRAW_BEACON is {settings.FAIRDRAW_BEACON!r}: draws would not use the public "
                "drand beacon, so nobody outside could check them.",
                hint="Set FAIRDRAW_BEACON=drand (config.settings.production's default).",
                id="fairdraw.E007",
            )
        )
    return errors


def _receipt_key_errors() -> list[Error]:
    from tickets.receipts import ReceiptKeyError, signing_keys

    hint = "Set FAIRDRAW_RECEIPT_KEYS to the line `manage.py receipt_key` prints."
    if not settings.FAIRDRAW_RECEIPT_KEYS:
        message = "FAIRDRAW_RECEIPT_KEYS is not set: receipts would be signed by the public development key."
        return [Error(message, hint=hint, id="fairdraw.E006")]
    try:
        keys = signing_keys()
    except ReceiptKeyError as error:
        return [Error(str(error), hint=hint, id="fairdraw.E006")]
    if any(key.is_development for key in keys):
        message = (
            "FAIRDRAW_RECEIPT_KEYS lists the development key, whose private half is published."
        )
        return [Error(message, hint=hint, id="fairdraw.E006")]
    return []
