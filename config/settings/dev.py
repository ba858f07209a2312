"""Local development: the embedded defaults of docs/architecture.md §6 with debugging on."""

from .base import *  # noqa: F403
from .base import env, outbox_dispatch

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = SECRET_KEY or "dev-only-insecure-key-change-me"  # noqa: F405
# The dev checkout signs its events with this; real Stripe sets STRIPE_WEBHOOK_SECRET.
STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET or "whsec_fairdraw_dev_only"  # noqa: F405
FAIRDRAW_DEV_TOOLS = True  # the test payment page, seed_demo, ensure_demo_admin
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = True  # passkeys on http://127.0.0.1
# Messages go out as each transaction commits (the console shows them at once); production
# relays them (NOTIFICATIONS_DISPATCH=relay, as the benchmarks run).
NOTIFICATIONS_DISPATCH = outbox_dispatch("commit")
