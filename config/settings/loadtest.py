"""The load test's settings (`make loadtest`, bench/loadtest.py): development's payment page on
production's moving parts.

Why not `config.settings.production`: production refuses the dev checkout (FAIRDRAW_DEV_TOOLS
off, a Stripe key required), and the issue asks for a purchase paid "through the dev gateway
and the real webhook". The dev payment page builds the `checkout.session.completed` event,
signs it with STRIPE_WEBHOOK_SECRET and hands it to the real webhook view, which verifies the
signature and runs the same fulfilment as a Stripe delivery. Everything else is what production
runs: gunicorn, PostgreSQL, Redis as cache and broker, a real Celery worker, DEBUG off. Plain
HTTP on 127.0.0.1 (no HTTPS redirect or Secure cookies: there is no TLS proxy in front).

The per-client-address limits are raised, and only those: every simulated customer comes from
127.0.0.1, where in production each has an address of their own. The per-account limits
(checkouts, basket changes, wrong passwords) stay as they are, and each simulated customer keeps
within them (bench/locustfile.py).

Passwords are hashed with the test settings' fast hasher unless LOADTEST_PRODUCTION_HASHER is
set. Production's PBKDF2 (Django's 1,000,000 rounds) costs about 0.6 s of one CPU per log-in on
the 2-CPU machine this was written on: 100 customers logging in within five seconds (Locust's
spawn) is a minute of CPU before anyone opens a page, so the run measured the hash and not the
shop (the first 100-user run: log-in p50 44 s, 16 of 100 logged in within the minute). Log-in
cost is a sizing question of its own: `bench/loadtest.py --production-hasher` measures it.
"""

from django.core.exceptions import ImproperlyConfigured

from .dev import *  # noqa: F403
from .dev import (
    ACCOUNT_RATE_LIMITS,
    CACHES,
    CELERY_BROKER_URL,
    DATABASES,
    env,
    outbox_dispatch,
)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
FAIRDRAW_DEV_TOOLS = True  # the dev payment page: the load test pays through it
NOTIFICATIONS_DISPATCH = outbox_dispatch("relay")  # as production: beat's relay queues them all

if "postgresql" not in DATABASES["default"]["ENGINE"]:
    raise ImproperlyConfigured("The load test runs on PostgreSQL: set DATABASE_URL=postgres://...")
if not CACHES["default"]["BACKEND"].endswith("RedisCache"):
    raise ImproperlyConfigured("The load test needs Redis as the cache: set CACHE_URL=redis://...")
if not CELERY_BROKER_URL.startswith("redis://"):
    raise ImproperlyConfigured("The load test needs Redis as the broker: CELERY_BROKER_URL")

if not env.bool("LOADTEST_PRODUCTION_HASHER", default=False):
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# One client address for everyone (see above): its limits are raised well beyond the run.
# Per account they stay as in base.py: 10 checkouts in 10 minutes, 60 basket changes a minute.
FAIRDRAW_CHECKOUT_RATE_CLIENT = (100_000, 10 * 60)  # base: 30 per 10 minutes per address
FAIRDRAW_BASKET_RATE_CLIENT = (100_000, 60)  # base: 60 a minute per address
ACCOUNT_RATE_LIMITS = {
    **ACCOUNT_RATE_LIMITS,
    "login": "100000/m/ip",  # base: 30 a minute per address
    "login_failed": "100000/15m/ip,5/15m/key",  # per address raised; per e-mail address kept
}
