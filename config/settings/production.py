"""Production: refuses to start without what money and security need, HTTPS enforced, static
files through WhiteNoise, media on S3 when a bucket is configured (else served by the app).

Passes `manage.py check --deploy` (config/checks.py repeats the start-up checks there).
Everything else comes from the environment (see README).
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import (
    CACHES,
    CELERY_BROKER_URL,
    DATABASES,
    FAIRDRAW_RECEIPT_KEYS,
    MIDDLEWARE,
    SECRET_KEY,
    SENTRY_DSN,
    STORAGES,
    STRIPE_SECRET_KEY,
    STRIPE_WEBHOOK_SECRET,
    env,
)

DEBUG = False
FAIRDRAW_DEV_TOOLS = False
# Each gunicorn or Celery worker keeps its database connection between requests (checked
# before reuse): no connection set-up per page, and the checkout's prepared statements
# (core.prepared) stay prepared. DATABASE_CONN_MAX_AGE=0 closes it after every request.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Draws use the real drand beacon; config/checks.py refuses the demo one.
FAIRDRAW_BEACON = env.str("FAIRDRAW_BEACON", default="drand")

# Never fall back silently to a development stand-in: name every missing variable at once.
_missing = []
if not SECRET_KEY or len(SECRET_KEY) < 50:
    _missing.append("DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE): 50+ random characters")
if not env.list("DJANGO_ALLOWED_HOSTS", default=[]):
    _missing.append("DJANGO_ALLOWED_HOSTS: the site's host names, comma-separated")
if not STRIPE_SECRET_KEY:
    _missing.append("STRIPE_SECRET_KEY: without it checkout has no payment provider")
if not STRIPE_WEBHOOK_SECRET:
    _missing.append("STRIPE_WEBHOOK_SECRET: without it every Stripe payment event is refused")
if CACHES["default"]["BACKEND"].endswith(("LocMemCache", "DummyCache")):
    _missing.append("CACHE_URL: a shared cache, e.g. redis://redis:6379/1 (not local memory)")
if CELERY_BROKER_URL.startswith(("filesystem://", "memory://")):
    _missing.append("CELERY_BROKER_URL: a real broker, e.g. redis://redis:6379/0")
if not FAIRDRAW_RECEIPT_KEYS or "dev-not-secret:" in FAIRDRAW_RECEIPT_KEYS:
    _missing.append(
        "FAIRDRAW_RECEIPT_KEYS: the Ed25519 key that signs entry receipts "
        "(manage.py receipt_key prints one), not the development key"
    )
if _missing:
    raise ImproperlyConfigured(
        "Production settings need: " + "; ".join(_missing) + ". See README, Production."
    )

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Behind that proxy, every rate limit (core.ratelimit's and allauth's) counts the client address
# from X-Forwarded-For: how many proxies append to it (1: the load balancer or compose's web).
FAIRDRAW_TRUSTED_PROXIES = env.int("FAIRDRAW_TRUSTED_PROXIES", default=1)
ALLAUTH_TRUSTED_PROXY_COUNT = FAIRDRAW_TRUSTED_PROXIES
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Health checks come over plain HTTP from inside the network (compose, load balancers).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Static files: WhiteNoise serves what collectstatic gathered, compressed, under hashed names
# cached for a year. Right after SecurityMiddleware, before anything that touches the database.
MIDDLEWARE = list(MIDDLEWARE)
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "whitenoise.middleware.WhiteNoiseMiddleware",
)
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

if SENTRY_DSN:
    import sentry_sdk

    # The Django, Celery and Redis integrations switch themselves on when those are installed.
    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
        send_default_pii=False,  # customers' names, e-mails and addresses stay with us
    )
