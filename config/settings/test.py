"""Test settings: whatever DATABASE_URL says (Postgres in CI), SQLite otherwise."""

import tempfile

from .base import *  # noqa: F403

DEBUG = False
SECRET_KEY = "test-only-key"
# The dev checkout signs its events with this; real Stripe sets STRIPE_WEBHOOK_SECRET.
STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET or "whsec_fairdraw_dev_only"  # noqa: F405
FAIRDRAW_DEV_TOOLS = True  # the test payment page, seed_demo, ensure_demo_admin
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = tempfile.mkdtemp(prefix="fairdraw-test-media-")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Tests read what the database says; the page cache's own tests turn it on
# (tests/core/test_pagecache.py).
FAIRDRAW_PAGE_CACHE_SECONDS = 0
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)  # noqa: F405
CELERY_TASK_EAGER_PROPAGATES = True
# Messages go out as each transaction commits, so tests see them at once; the relay
# (production's default) has its own tests (tests/notifications/test_relay.py).
NOTIFICATIONS_DISPATCH = outbox_dispatch("commit")  # noqa: F405
# Draws in tests use the demo beacon (tests of the drand path point it at a local fake relay);
# the back-off between relay rounds is not waited for.
FAIRDRAW_BEACON = "demo"
FAIRDRAW_BEACON_MARGIN_SECONDS = 0  # tests move the clock by minutes; rule tests set it
FAIRDRAW_BEACON_BACKOFF_SECONDS = 0.0
FAIRDRAW_DRAND_RELAYS = ["http://127.0.0.1:9"]  # never the real network
