"""Running Fairdraw as an operator would: production settings refuse to start without what money
and security need, dev-only tools stay off, health endpoints, a busy database answers 503, a
dead cache slows pages down without breaking them, WhiteNoise serves static files, JSON logs."""

import json
import os
import secrets
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import OperationalError
from django.urls import reverse

from competitions.models import Competition
from draws.models import Draw
from draws.services import draw_perform
from tests.draws.conftest import after_end, buy
from tests.factories import UserFactory, active_competition
from tests.tickets.helpers import reserve
from tickets import payments, receipts
from tickets.exceptions import Busy
from tickets.models import Order

ROOT = Path(__file__).resolve().parent.parent

# Variables of the outer environment that would leak into a production subprocess (CI sets
# DATABASE_URL and REDIS_URL; a developer may have an .env-style shell).
_CONTROLLED = (
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "FAIRDRAW_RECEIPT_KEYS",
    "CACHE_URL",
    "CELERY_BROKER_URL",
    "DATABASE_URL",
    "SENTRY_DSN",
    "LOG_FORMAT",
    "AWS_STORAGE_BUCKET_NAME",
    "STATIC_ROOT",
    "MEDIA_ROOT",
)


# A receipt-signing key made for these tests (`manage.py receipt_key` makes real ones).
RECEIPT_KEYS = receipts.key_entry(receipts.new_key("fairdraw-test"))
DEV_RECEIPT_KEYS = receipts.key_entry(receipts.DEV_KEY)


def closed_port() -> int:
    """A local port nothing listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(**changes) -> dict:
    """A complete production environment with fake values; `NAME=None` removes NAME."""
    dead = closed_port()  # nothing is contacted at start-up
    env = {k: v for k, v in os.environ.items() if k not in _CONTROLLED and not k.endswith("_FILE")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS="fairdraw.example,localhost",
        STRIPE_SECRET_KEY="sk_test_not_a_real_key",
        STRIPE_WEBHOOK_SECRET="whsec_not_a_real_secret",
        FAIRDRAW_RECEIPT_KEYS=RECEIPT_KEYS,
        CACHE_URL=f"redis://127.0.0.1:{dead}/1",
        CELERY_BROKER_URL=f"redis://127.0.0.1:{dead}/0",
        DATABASE_URL="sqlite:///:memory:",
    )
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_python(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )


SETUP = "import django; django.setup()"


# --- fail fast ------------------------------------------------------------------------------


def test_complete_production_settings_start():
    result = run_python(SETUP, production_env())
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("missing", "changes"),
    [
        ("DJANGO_ALLOWED_HOSTS", {"DJANGO_ALLOWED_HOSTS": None}),
        ("STRIPE_SECRET_KEY", {"STRIPE_SECRET_KEY": None}),
        ("STRIPE_WEBHOOK_SECRET", {"STRIPE_WEBHOOK_SECRET": ""}),
        ("CACHE_URL", {"CACHE_URL": None}),
        ("CACHE_URL", {"CACHE_URL": "locmemcache://"}),
        ("CELERY_BROKER_URL", {"CELERY_BROKER_URL": None}),
        ("CELERY_BROKER_URL", {"CELERY_BROKER_URL": "memory://"}),
        ("FAIRDRAW_RECEIPT_KEYS", {"FAIRDRAW_RECEIPT_KEYS": None}),
        ("FAIRDRAW_RECEIPT_KEYS", {"FAIRDRAW_RECEIPT_KEYS": DEV_RECEIPT_KEYS}),
    ],
)
def test_production_settings_refuse_to_start_naming_what_is_missing(missing, changes):
    result = run_python(SETUP, production_env(**changes))
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last_line
    assert missing in last_line
    others = {"DJANGO_ALLOWED_HOSTS", "STRIPE_SECRET_KEY", "CACHE_URL", "CELERY_BROKER_URL"}
    assert not [name for name in others - {missing} if f"{name}:" in last_line]


def test_deploy_check_fails_when_settings_were_overridden(settings):
    """config/checks.py: what production.py refuses at start-up, `check --deploy` refuses
    too, for settings changed after it (here the test settings, which are dev-like)."""

    def fairdraw_errors():
        return {m.id: m.msg for m in run_checks(include_deployment_checks=True)}

    settings.FAIRDRAW_DEV_TOOLS = False
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_x"
    settings.CACHES = {"default": {"BACKEND": "config.cache.ResilientRedisCache", "LOCATION": ""}}
    settings.CELERY_BROKER_URL = "redis://redis:6379/0"
    settings.FAIRDRAW_RECEIPT_KEYS = RECEIPT_KEYS
    settings.FAIRDRAW_BEACON = "drand"
    assert not [i for i in fairdraw_errors() if i.startswith("fairdraw.")]

    settings.STRIPE_SECRET_KEY = ""
    settings.STRIPE_WEBHOOK_SECRET = ""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.FAIRDRAW_DEV_TOOLS = True
    settings.FAIRDRAW_RECEIPT_KEYS = ""
    settings.FAIRDRAW_BEACON = "demo"
    errors = fairdraw_errors()
    assert "STRIPE_SECRET_KEY" in errors["fairdraw.E001"]
    assert "STRIPE_WEBHOOK_SECRET" in errors["fairdraw.E002"]
    assert "CACHE_URL" in errors["fairdraw.E003"]
    assert "CELERY_BROKER_URL" in errors["fairdraw.E004"]
    assert "FAIRDRAW_DEV_TOOLS" in errors["fairdraw.E005"]
    assert "FAIRDRAW_RECEIPT_KEYS" in errors["fairdraw.E006"]
    assert "FAIRDRAW_BEACON is 'demo'" in errors["fairdraw.E007"]
    # The published development key is refused under any key id.
    settings.FAIRDRAW_RECEIPT_KEYS = (
        f"{RECEIPT_KEYS},{DEV_RECEIPT_KEYS.replace('dev-not-secret', 'x')}"
    )
    assert "development key" in fairdraw_errors()["fairdraw.E006"]


def test_production_draws_with_drand_by_default():
    code = SETUP + "; from django.conf import settings; print(settings.FAIRDRAW_BEACON)"
    result = run_python(code, production_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "drand"


def production_prints(expression: str) -> str:
    """What `expression` (Python, `settings` in scope) prints under production settings."""
    code = SETUP + f"; from django.conf import settings; print({expression})"
    result = run_python(code, production_env())
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_production_workers_keep_their_database_connection():
    """Persistent, health-checked connections: no set-up per request, and the checkout's
    prepared statements (core.prepared) stay prepared."""
    database = "settings.DATABASES['default']"
    printed = production_prints(
        f"{database}['CONN_MAX_AGE'], {database}['CONN_HEALTH_CHECKS'],"
        " settings.FAIRDRAW_PREPARED_STATEMENTS"
    )
    assert printed == "60 True True"


def test_production_relays_the_outbox_every_second():
    """A checkout publishes nothing to the broker: beat's relay queues the messages."""
    printed = production_prints(
        "settings.NOTIFICATIONS_DISPATCH,"
        " settings.CELERY_BEAT_SCHEDULE['notifications-relay']['schedule']"
    )
    assert printed == "relay 1.0"


def test_production_logs_one_line_per_optional_service_that_is_off():
    result = run_python(SETUP, production_env())
    for service in ("Klaviyo is off", "Twilio is off", "S3 is off", "Sentry is off"):
        assert result.stderr.count(service) == 1, result.stderr


def test_sentry_is_on_when_a_dsn_is_set():
    # A DSN at a closed local port: the SDK sends nothing unless an error is reported.
    dsn = f"http://public@127.0.0.1:{closed_port()}/1"
    code = SETUP + "; import sentry_sdk; print(sentry_sdk.get_client().is_active())"
    result = run_python(code, production_env(SENTRY_DSN=dsn))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
    assert "Sentry is off" not in result.stderr
    assert "Klaviyo is off" in result.stderr


# --- dev tools stay in development ----------------------------------------------------------


@pytest.mark.django_db
def test_seed_demo_refuses_outside_development(settings):
    settings.FAIRDRAW_DEV_TOOLS = False
    with pytest.raises(CommandError, match="development only"):
        call_command("seed_demo")
    assert not Competition.objects.exists()


@pytest.mark.django_db
def test_without_stripe_there_are_no_free_tickets_outside_development(settings, client):
    customer = UserFactory()
    competition = active_competition()
    order = reserve(customer, competition, quantity=1)
    client.force_login(customer)
    dev_page = reverse("tickets:dev_pay", args=[order.reference])
    assert client.get(dev_page).status_code == 200  # development: the test payment page

    settings.FAIRDRAW_DEV_TOOLS = False
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(ImproperlyConfigured, match="STRIPE_SECRET_KEY"):
        payments.get_gateway()
    assert client.get(dev_page).status_code == 404
    response = client.post(dev_page, {"action": "pay", "funding": "debit"})
    assert response.status_code == 404
    order.refresh_from_db()
    assert order.status not in Order.PAID_STATES


# --- health ---------------------------------------------------------------------------------


def test_healthz_answers_without_touching_the_database(client):
    response = client.get("/healthz")  # without the django_db mark a query would raise
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ready_when_database_cache_and_broker_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "ok"
    assert set(response.json()["checks"]) == {"database", "cache", "broker"}


@pytest.mark.django_db
def test_readyz_names_a_dead_cache(client, settings):
    settings.CACHES = {"default": dead_redis_cache()}
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["cache"]
    assert "Connection" in body["checks"]["cache"]
    assert body["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_readyz_names_a_dead_broker(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["down"] == ["broker"]


@pytest.mark.redis
@pytest.mark.django_db
def test_readyz_with_real_redis_cache_and_broker(client, settings):
    import redis

    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        pytest.skip(f"needs Redis at {url} (REDIS_URL): {error}")
    settings.CACHES = {"default": {"BACKEND": "config.cache.ResilientRedisCache", "LOCATION": url}}
    settings.CELERY_BROKER_URL = url
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "broker": "ok"}


# --- a saturated database answers 503 -------------------------------------------------------


@pytest.fixture
def listing_fails(monkeypatch):
    """Make the home page's first query fail with the given error."""

    def fail_with(error):
        def raise_it(*args, **kwargs):
            raise error

        monkeypatch.setattr("pages.views.competitions_for_home", raise_it)

    return fail_with


@pytest.mark.django_db
@pytest.mark.parametrize(
    "message",
    [
        "FATAL:  sorry, too many clients already",
        "FATAL:  remaining connection slots are reserved for non-replication superuser connections",
        "canceling statement due to lock timeout",
    ],
)
def test_a_saturated_database_is_a_503_with_retry_after(client, listing_fails, message):
    listing_fails(OperationalError(message))
    response = client.get("/")
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    html = response.content.decode()
    assert "very busy" in html and "try again" in html
    assert "/static/css/site.css" in html  # styled like the other error pages


@pytest.mark.django_db
def test_a_competition_too_busy_to_lock_is_a_503(client, listing_fails):
    listing_fails(Busy())
    response = client.get("/")
    assert response.status_code == 503
    assert "Retry-After" in response


@pytest.mark.django_db
def test_the_api_answers_busy_in_json(client, monkeypatch):
    competition = active_competition()

    def saturated(*args, **kwargs):
        raise OperationalError("FATAL:  sorry, too many clients already")

    monkeypatch.setattr("draws.api.draw_for", saturated)
    response = client.get(f"/api/draws/{competition.pk}")
    assert response.status_code == 503
    assert response.json()["error"] == "busy"
    assert int(response["Retry-After"]) > 0


@pytest.mark.django_db
def test_other_database_errors_stay_500(client, listing_fails):
    listing_fails(OperationalError("no such column: competitions_competition.colour"))
    client.raise_request_exception = False
    response = client.get("/")
    assert response.status_code == 500
    assert "Retry-After" not in response


# --- request ids -----------------------------------------------------------------------------


def test_every_response_carries_a_request_id(client):
    first, second = client.get("/healthz"), client.get("/healthz")
    assert first["X-Request-ID"] and first["X-Request-ID"] != second["X-Request-ID"]
    # The load balancer's id is kept; anything that does not look like an id is replaced.
    assert client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a.1")["X-Request-ID"] == "lb-7f3a.1"
    forged = client.get("/healthz", HTTP_X_REQUEST_ID="x\nINFO fake log line")
    assert "fake" not in forged["X-Request-ID"]


# --- a dead cache slows pages down, never breaks them ---------------------------------------


def dead_redis_cache() -> dict:
    from config.cache import cache_config

    return cache_config(f"redis://127.0.0.1:{closed_port()}/1")


@pytest.mark.django_db
def test_pages_keep_serving_when_the_cache_is_down(client, settings):
    closed_competition = active_competition(prizes=2)
    for _ in range(3):
        buy(closed_competition, quantity=2)
    draw = draw_perform(
        competition=closed_competition,
        mode=Draw.Mode.AUTOMATIC,
        now=after_end(closed_competition),
    )
    open_one = active_competition()
    buy(open_one, quantity=1)
    settings.CACHES = {"default": dead_redis_cache()}

    assert client.get("/").status_code == 200
    assert client.get(reverse("competitions:detail", args=[open_one.slug])).status_code == 200
    page = client.get(reverse("draws:detail", args=[closed_competition.slug]))
    assert page.status_code == 200
    assert draw.seed in page.content.decode()
    assert page.context["checks"] and all(c.ok for c in page.context["checks"])
    api = client.get(f"/api/draws/{closed_competition.pk}")
    assert api.status_code == 200
    assert api.json()["seed"] == draw.seed


# --- production serving: static files, media, JSON logs -------------------------------------


SERVE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import django
    django.setup()
    from django.core.management import call_command
    call_command("migrate", verbosity=0)
    from django.test import Client
    client = Client(HTTP_HOST="fairdraw.example")
    out = {}
    for name, path in [
        ("css", "/static/css/site.css"),
        ("home", "/"),
        ("media", "/media/prize.txt"),
        ("missing_media", "/media/nothing.png"),
    ]:
        r = client.get(path, secure=True)
        out[name] = {"status": r.status_code, "cache": r.get("Cache-Control", ""),
                     "request_id": r.get("X-Request-ID", "")}
        if name == "home":
            html = r.content.decode()
            start = html.index("/static/css/site.")
            out["hashed_css"] = html[start:html.index('"', start)]
    r = client.get(out["hashed_css"], secure=True)
    out["hashed"] = {"status": r.status_code, "cache": r.get("Cache-Control", "")}
    print(json.dumps(out))
    """
)


def test_production_serves_static_files_media_and_json_logs(tmp_path):
    static_root, media_root = tmp_path / "static", tmp_path / "media"
    media_root.mkdir()
    (media_root / "prize.txt").write_text("a prize photo stand-in")
    env = production_env(
        STATIC_ROOT=str(static_root),
        MEDIA_ROOT=str(media_root),
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        LOG_FORMAT="json",
    )
    collect = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert collect.returncode == 0, collect.stderr
    result = run_python(SERVE_SCRIPT, env)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])

    assert out["css"]["status"] == 200  # what base.html's unhashed links and 500.html use
    assert out["home"]["status"] == 200
    assert out["hashed_css"] != "/static/css/site.css"
    assert out["hashed"]["status"] == 200
    assert "immutable" in out["hashed"]["cache"]
    assert out["media"]["status"] == 200
    assert "max-age=86400" in out["media"]["cache"]
    assert out["missing_media"]["status"] == 404

    log_lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    requests = [line for line in log_lines if line["logger"] == "fairdraw.request"]
    home = next(line for line in requests if line["path"] == "/")
    assert home["status"] == 200
    assert home["request_id"] == out["home"]["request_id"] != ""
