"""Settings shared by every environment.

Everything an operator may change comes from the environment (django-environ, an optional
`.env` file beside manage.py). The defaults are the embedded ones: SQLite, local memory cache,
a Celery broker that needs no server, local media and console/dev backends for every provider,
so a newcomer can run the whole site with nothing but Python.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.cache import cache_config
from config.layers import LAYERS

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def env_secret(name: str, default: str = "") -> str:
    """Read a secret from NAME, or from the file named by NAME_FILE (Docker/K8s secrets)."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        return Path(path).read_text().strip()
    return env.str(name, default=default)


DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env_secret("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
SITE_NAME = "Fairdraw"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # Sign-up, log-in, e-mail verification, password reset and two-factor (accounts.adapter).
    "allauth",
    "allauth.account",
    "allauth.mfa",
    # Fairdraw's apps, bottom layer first: the one list is config.layers.LAYERS
    # (docs/architecture.md §1; `python3 dev.py check-layers`).
    *LAYERS,
    "config.apps.FairdrawConfig",
]

# The apps whose models Fairdraw's staff groups cover (core.groups).
FAIRDRAW_APPS = LAYERS

MIDDLEWARE = [
    "config.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "config.middleware.PermissionsPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Staff: a second factor before any admin page, and a working day's idle session.
    "accounts.middleware.StaffSecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.ServiceUnavailableMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.site",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The development database is shared by the web server and the Celery worker: a write
    # transaction takes the write lock when it begins (IMMEDIATE) and waits up to 20 s for it,
    # instead of failing with "database is locked" when both write at once; WAL lets pages
    # read while the worker writes.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# A Redis cache that is down makes pages slower, never broken (config/cache.py).
CACHES = {"default": cache_config(env.str("CACHE_URL", default="locmemcache://fairdraw"))}
# Anonymous public pages come from the cache (core/pagecache.py): fresh this many seconds
# (counters and "sold out" at most this stale; 0 turns it off), kept this much longer as the
# copy served while one request rebuilds it. Content edits show at once (versioned keys).
FAIRDRAW_PAGE_CACHE_SECONDS = env.int("FAIRDRAW_PAGE_CACHE_SECONDS", default=5)
FAIRDRAW_PAGE_CACHE_STALE_SECONDS = env.int("FAIRDRAW_PAGE_CACHE_STALE_SECONDS", default=30)
# How long each process trusts the content version it last read (an edit shows in the other
# processes within this time; in the one that saved it at once).
FAIRDRAW_PAGE_CACHE_LOCAL_SECONDS = env.float("FAIRDRAW_PAGE_CACHE_LOCAL_SECONDS", default=1.0)

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.EmailBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:dashboard"
LOGOUT_REDIRECT_URL = "home"
PASSWORD_RESET_TIMEOUT = 60 * 60 * 3  # a reset link works for three hours

# Accounts on django-allauth (README "Accounts and abuse"). Log in by e-mail, which must be
# confirmed by the e-mailed link before the first log-in: opening the link in the browser that
# signed up logs the customer in. Sign-up keeps Fairdraw's own fields and rules (accounts.forms,
# accounts.adapter -> accounts.services.user_register).
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {"signup": "accounts.forms.SignUpForm", "login": "accounts.forms.LoginForm"}
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED = False  # a link, which works in any browser
ACCOUNT_CONFIRM_EMAIL_ON_GET = False  # the link opens a page with a button (mail scanners GET)
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS = 3
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""  # our subjects name Fairdraw themselves
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if SITE_URL.startswith("https") else "http"
# Log-in, password reset and sign-up never say whether an address has an account. Sign-up can
# keep the secret only because verification is mandatory: an address that already has an
# account gets the same "check your e-mail" page, its owner an "account already exists" e-mail,
# and nothing is created.
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
ACCOUNT_SESSION_REMEMBER = True  # customers keep Django's two-week session; staff get 8 h
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
# allauth counts in the cache; "key" is the e-mail address typed.
ACCOUNT_RATE_LIMITS = {
    # Wrong passwords: 5 per address and client per 15 minutes, 20 per client; after that even
    # the right password is refused until the window passes.
    "login_failed": "20/15m/ip,5/15m/key",
    "login": "30/m/ip",
    "signup": "5/h/ip",
    "reset_password": "10/h/ip,3/h/key",
    "reset_password_from_key": "20/h/ip",
    "confirm_email": "1/3m/key",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "reauthenticate": "10/m/user",
}
# Two-factor: an authenticator app (with recovery codes) or a passkey. Every member of staff
# must have one before any admin page opens (accounts.middleware); customers may add one.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = False  # passkeys are a second factor, not a password
MFA_TOTP_ISSUER = SITE_NAME
# Staff sessions end after a working day without a request (sliding); customers keep
# SESSION_COOKIE_AGE (two weeks).
FAIRDRAW_STAFF_SESSION_SECONDS = env.int("FAIRDRAW_STAFF_SESSION_SECONDS", default=8 * 60 * 60)

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"  # how times are shown; they are stored in UTC
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = env.str("MEDIA_URL", default="/media/")
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "media"))

# Uploaded media (competition images, winner photos/videos) go to S3 when a bucket is set.
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="eu-west-2")
    AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
    AWS_S3_CUSTOM_DOMAIN = env.str("AWS_S3_CUSTOM_DOMAIN", default="") or None
    AWS_ACCESS_KEY_ID = env_secret("AWS_ACCESS_KEY_ID") or None
    AWS_SECRET_ACCESS_KEY = env_secret("AWS_SECRET_ACCESS_KEY") or None
    AWS_DEFAULT_ACL = None
    AWS_QUERYSTRING_AUTH = False
    AWS_S3_FILE_OVERWRITE = False
    MEDIA_STORAGE = {"BACKEND": "storages.backends.s3.S3Storage"}
else:
    MEDIA_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
# Without a bucket, the app serves MEDIA_ROOT itself when DEBUG is off (config/media.py).
SERVE_MEDIA = not AWS_STORAGE_BUCKET_NAME and MEDIA_URL.startswith("/")
STORAGES = {
    "default": MEDIA_STORAGE,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Content-Security-Policy on every response (django-csp). Scripts and styles come only from our
# own origin: an inline <script> or <style> needs the request's nonce
# (nonce="{{ request.csp_nonce }}"), and style="" attributes and onclick= handlers are not
# allowed at all (static/css/admin-fairdraw.css, static/js/). Images and video may also come
# from the media bucket or its CDN. Forms post to us; checkout then redirects to Stripe's hosted
# page, and form-action covers that redirect too. Nobody may frame the site.
CSP_MEDIA_ORIGINS = []
if AWS_STORAGE_BUCKET_NAME:
    if AWS_S3_CUSTOM_DOMAIN:
        CSP_MEDIA_ORIGINS.append(f"https://{AWS_S3_CUSTOM_DOMAIN}")
    elif AWS_S3_ENDPOINT_URL:
        CSP_MEDIA_ORIGINS.append(AWS_S3_ENDPOINT_URL.rstrip("/"))
    else:
        CSP_MEDIA_ORIGINS += [
            f"https://{AWS_STORAGE_BUCKET_NAME}.s3.amazonaws.com",
            f"https://{AWS_STORAGE_BUCKET_NAME}.s3.{AWS_S3_REGION_NAME}.amazonaws.com",
        ]
if MEDIA_URL.startswith(("https://", "http://")):
    CSP_MEDIA_ORIGINS.append("/".join(MEDIA_URL.split("/")[:3]))
# Where Stripe Checkout pages live (form-action: the checkout form redirects there); another
# origin only for a sandbox or the tests' local fake.
STRIPE_CHECKOUT_ORIGIN = env.str("STRIPE_CHECKOUT_ORIGIN", default="https://checkout.stripe.com")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:", *CSP_MEDIA_ORIGINS],
        "media-src": [SELF, *CSP_MEDIA_ORIGINS],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF, STRIPE_CHECKOUT_ORIGIN],
    },
}
# Browser features no page of ours uses, switched off (config.middleware). Payment is off too:
# Stripe Checkout is a redirect to Stripe's own page, not a payment request made from ours.
PERMISSIONS_POLICY = {
    "accelerometer": [],
    "camera": [],
    "geolocation": [],
    "gyroscope": [],
    "magnetometer": [],
    "microphone": [],
    "payment": [],
    "usb": [],
    "browsing-topics": [],
}

# E-mail: console in the embedded default, SMTP (EMAIL_URL=smtp+tls://...) in production.
_email = env.email("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
for _key in ("EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD"):
    if _email.get(_key):
        globals()[_key] = _email[_key]
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Fairdraw <hello@fairdraw.example>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ADMINS = [("Fairdraw operations", a) for a in env.list("FAIRDRAW_ADMIN_EMAILS", default=[])]

# Celery. The embedded default uses kombu's filesystem transport: a real worker and beat
# with no broker server. Production sets CELERY_BROKER_URL=redis://...
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "queue"),
        "data_folder_out": str(_queue_dir / "queue"),
        "processed_folder": str(_queue_dir / "processed"),
        "store_processed": False,
        # Broadcast control messages (`celery inspect`, remote control): kombu's default is
        # a `control/` folder in the working directory, which ended up committed once.
        "control_folder": str(_queue_dir / "control"),
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# How often the "every minute" jobs run; integration tests shorten it.
BEAT_INTERVAL = timedelta(seconds=env.int("FAIRDRAW_BEAT_INTERVAL_SECONDS", default=60))
# The harm-signal scan (harm_signals.services) reads every customer's recent activity: hourly.
HARM_SCAN_INTERVAL = timedelta(seconds=env.int("FAIRDRAW_HARM_SCAN_INTERVAL_SECONDS", default=3600))
CELERY_BEAT_SCHEDULE = {
    "competitions-sync-statuses": {
        "task": "competitions.tasks.sync_competition_statuses",
        "schedule": BEAT_INTERVAL,
    },
    "draws-run-due": {"task": "draws.tasks.run_due_draws", "schedule": BEAT_INTERVAL},
    "tickets-release-expired-reservations": {
        "task": "tickets.tasks.release_expired_reservations",
        "schedule": BEAT_INTERVAL,
    },
    "notifications-purge-sent": {
        "task": "notifications.tasks.purge_old_notifications",
        "schedule": crontab(hour=3, minute=30),
    },
    "tickets-sweep-refunds": {"task": "tickets.tasks.sweep_refunds", "schedule": BEAT_INTERVAL},
    "tickets-sweep-receipts": {"task": "tickets.tasks.sweep_receipts", "schedule": BEAT_INTERVAL},
    "tickets-resume-cancellations": {
        "task": "tickets.tasks.resume_cancellations",
        "schedule": BEAT_INTERVAL,
    },
    "notifications-sweep-outbox": {
        "task": "notifications.tasks.sweep_outbox",
        "schedule": BEAT_INTERVAL,
    },
    "draws-verify": {"task": "draws.tasks.verify_draws", "schedule": crontab(minute=15)},
    "harm-signals-scan": {
        "task": "harm_signals.tasks.scan_harm_signals",
        "schedule": HARM_SCAN_INTERVAL,
    },
}

# Providers. Empty keys select the dev backends, which still go through the outbox.
STRIPE_SECRET_KEY = env_secret("STRIPE_SECRET_KEY")
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env_secret("STRIPE_WEBHOOK_SECRET")
# Only tests (a local fake Stripe) change where the Stripe SDK sends its requests.
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
KLAVIYO_PRIVATE_API_KEY = env_secret("KLAVIYO_PRIVATE_API_KEY")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env_secret("TWILIO_AUTH_TOKEN")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
KLAVIYO_LIST_ID = env.str("KLAVIYO_LIST_ID", default="")
# Notification delivery (notifications/transports.py): "auto" picks the real provider when its
# credentials are set, else the console/log backend; "klaviyo"/"twilio"/"console" force one.
# E-mail always goes through Django's EMAIL_BACKEND. Every backend goes through the outbox.
NOTIFICATIONS_KLAVIYO_BACKEND = env.str("NOTIFICATIONS_KLAVIYO_BACKEND", default="auto")
NOTIFICATIONS_SMS_BACKEND = env.str("NOTIFICATIONS_SMS_BACKEND", default="auto")
# Another API host for the SDKs (a sandbox, or the local fakes in tests); empty = the real API.
KLAVIYO_API_URL = env.str("KLAVIYO_API_URL", default="")
TWILIO_API_URL = env.str("TWILIO_API_URL", default="")
# Retries: attempt n waits base * 2**n seconds (capped); after the last one the entry fails and
# the operators are alerted. A claim older than the timeout means the worker died mid-send.
NOTIFICATIONS_MAX_ATTEMPTS = env.int("NOTIFICATIONS_MAX_ATTEMPTS", default=8)
NOTIFICATIONS_RETRY_BASE_SECONDS = 30
NOTIFICATIONS_RETRY_MAX_SECONDS = 3600
NOTIFICATIONS_SENDING_TIMEOUT = timedelta(minutes=10)
# How a message committed to the outbox reaches a worker: "relay" (the default), a beat task
# every NOTIFICATIONS_RELAY_SECONDS queues the sends of what was committed since, so a web
# request (a checkout at launch) publishes nothing to the broker; "commit", each message is
# queued by its own request once its transaction commits (the test settings, which watch
# messages go out at once). Either way the sweeper catches anything left.
NOTIFICATIONS_RELAY_SECONDS = env.float("NOTIFICATIONS_RELAY_SECONDS", default=1.0)


def outbox_dispatch(mode: str) -> str:
    """Set the outbox's dispatch `mode` (NOTIFICATIONS_DISPATCH) and beat's relay to match;
    each settings module calls it with its default (development's is "commit": messages show
    in the console at once, and the worker's log is not a relay tick a second)."""
    mode = env.str("NOTIFICATIONS_DISPATCH", default=mode)
    if mode not in ("relay", "commit"):
        raise ImproperlyConfigured('NOTIFICATIONS_DISPATCH is "relay" or "commit".')
    CELERY_BEAT_SCHEDULE.pop("notifications-relay", None)
    if mode == "relay":
        CELERY_BEAT_SCHEDULE["notifications-relay"] = {
            "task": "notifications.tasks.relay_outbox",
            "schedule": NOTIFICATIONS_RELAY_SECONDS,
            # A tick not run by the next one is covered by it.
            "options": {"expires": NOTIFICATIONS_RELAY_SECONDS * 5},
        }
    return mode


NOTIFICATIONS_DISPATCH = outbox_dispatch("relay")

# The test payment page (tickets dev_pay, payments.DevGateway), `seed_demo` and
# `ensure_demo_admin`: on only in the dev and test settings, never in production.
FAIRDRAW_DEV_TOOLS = False

# Error reports to Sentry when a DSN is set (config/settings/production.py).
SENTRY_DSN = env_secret("SENTRY_DSN")

# Business settings an operator may tune.
FAIRDRAW_CURRENCY = "GBP"
FAIRDRAW_RESERVATION_MINUTES = env.int("FAIRDRAW_RESERVATION_MINUTES", default=15)
# The least a paid order may cost after a discount code (tickets.pricing): Stripe's smallest
# card payment in pounds. A code never makes a paid entry free (free entry is the postal route).
FAIRDRAW_MIN_CHARGE = env.str("FAIRDRAW_MIN_CHARGE", default="0.30")
# How long a buyer waits for a hot competition's row lock before being told to try again.
FAIRDRAW_LOCK_TIMEOUT_SECONDS = env.float("FAIRDRAW_LOCK_TIMEOUT_SECONDS", default=3.0)
# The checkout's written-out statements are prepared once per database connection
# (core.prepared); turn off behind a pooler in transaction mode (PgBouncer's), which does not
# carry SQL-level PREPARE from one transaction to the next.
FAIRDRAW_PREPARED_STATEMENTS = env.bool("FAIRDRAW_PREPARED_STATEMENTS", default=True)
# Throttles on the basket and checkout (tickets.throttle): (requests, seconds) per account
# and per client address.
FAIRDRAW_CHECKOUT_RATE_ACCOUNT = (10, 10 * 60)
FAIRDRAW_CHECKOUT_RATE_CLIENT = (30, 10 * 60)
FAIRDRAW_BASKET_RATE = (60, 60)
FAIRDRAW_BASKET_RATE_CLIENT = FAIRDRAW_BASKET_RATE
FAIRDRAW_CLOSING_SOON_HOURS = env.int("FAIRDRAW_CLOSING_SOON_HOURS", default=24)
FAIRDRAW_MINIMUM_AGE = 18
# Nobody alive is older: a date of birth further back is a typing mistake (accounts.services).
FAIRDRAW_MAXIMUM_AGE = 120
# How many proxies (load balancer, CDN) stand in front of the app and append to
# X-Forwarded-For; the client address rate limits use is read accordingly (core.ratelimit).
FAIRDRAW_TRUSTED_PROXIES = env.int("FAIRDRAW_TRUSTED_PROXIES", default=0)
# allauth counts log-in and sign-up attempts by the same client address (core.ratelimit).
ALLAUTH_TRUSTED_PROXY_COUNT = FAIRDRAW_TRUSTED_PROXIES
# Responsible play. The next four are only the first values of the operator settings
# (core.models.OperatorSettings), taken when that row is created; from then on they are
# changed in admin ("Operator settings"), audited, and these variables are no longer read.
# Accounts.limits: what any one customer may spend in a calendar month
# (UK time) whatever their own limit says (blank: no operator cap), and how long a customer
# waits before raising or removing their own limit takes effect (lowering is immediate).
FAIRDRAW_OPERATOR_MONTHLY_CAP = env.str("FAIRDRAW_OPERATOR_MONTHLY_CAP", default="1000.00")
FAIRDRAW_LIMIT_COOLING_OFF_HOURS = env.int("FAIRDRAW_LIMIT_COOLING_OFF_HOURS", default=24)
# The most a customer may pay by credit card in a calendar month (the code of practice: £250).
FAIRDRAW_CREDIT_CARD_MONTHLY_CAP = env.str("FAIRDRAW_CREDIT_CARD_MONTHLY_CAP", default="250.00")
# Whole UK calendar days, Sundays not counted, a competition must stay open between its
# opening day and its closing day; checked when it is activated.
FAIRDRAW_MIN_OPEN_CLEAR_DAYS = env.int("FAIRDRAW_MIN_OPEN_CLEAR_DAYS", default=3)
# Ed25519 keys that sign entry receipts (tickets.receipts): `keyid:base64-private-key`, comma
# separated, the current one first (`manage.py receipt_key` makes one). Empty: the published
# development key, which production refuses.
FAIRDRAW_RECEIPT_KEYS = env_secret("FAIRDRAW_RECEIPT_KEYS")
FAIRDRAW_POSTAL_ENTRY_ADDRESS = env.str(
    "FAIRDRAW_POSTAL_ENTRY_ADDRESS",
    default="Fairdraw Free Entry, PO Box 1234, Leeds LS1 1AA",
)

# The public randomness beacon a draw mixes in (docs/architecture.md §4.3, draws/beacon.py):
# "drand" (League of Entropy quicknet, production) or "demo" (a local key, clearly labelled,
# for development and tests; production refuses it). The round is fixed at activation: the
# first one at or after the close plus FAIRDRAW_BEACON_MARGIN_SECONDS.
FAIRDRAW_BEACON = env.str("FAIRDRAW_BEACON", default="demo")
FAIRDRAW_BEACON_MARGIN_SECONDS = env.int("FAIRDRAW_BEACON_MARGIN_SECONDS", default=60)
FAIRDRAW_DRAND_RELAYS = env.list(
    "FAIRDRAW_DRAND_RELAYS",
    default=[
        "https://api.drand.sh",
        "https://drand.cloudflare.com",
        "https://api2.drand.sh",
        "https://api3.drand.sh",
    ],
)
FAIRDRAW_BEACON_TIMEOUT_SECONDS = env.float("FAIRDRAW_BEACON_TIMEOUT_SECONDS", default=5.0)
# Rounds of asking every relay in turn, with a growing pause between rounds.
FAIRDRAW_BEACON_ATTEMPTS = env.int("FAIRDRAW_BEACON_ATTEMPTS", default=3)
FAIRDRAW_BEACON_BACKOFF_SECONDS = env.float("FAIRDRAW_BEACON_BACKOFF_SECONDS", default=1.0)
# Operators are alerted when a round this long overdue still cannot be fetched and verified.
FAIRDRAW_BEACON_ALERT_AFTER_SECONDS = env.int("FAIRDRAW_BEACON_ALERT_AFTER_SECONDS", default=600)
# The demo beacon's Ed25519 private key (64 hex characters); empty: a fixed development key.
FAIRDRAW_DEMO_BEACON_KEY = env.str("FAIRDRAW_DEMO_BEACON_KEY", default="")

# LOG_FORMAT=json: one JSON object per line (config/logging.py); every line carries the id of
# the request it was written for (X-Request-ID), and each request logs one "fairdraw.request" line.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.logging.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "config.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Twilio's HTTP client logs every request, headers and all, at INFO; our outbox
        # already records each SMS and its outcome.
        "twilio.http_client": {"level": "WARNING"},
    },
}
