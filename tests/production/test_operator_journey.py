"""Fairdraw run as an operator runs it, and a customer's journey through it in a real browser.

Nothing here is the test settings or Django's test client. The test starts, on 127.0.0.1 and
free ports:

- gunicorn serving `config.wsgi` with `config.settings.production` on PostgreSQL (a database
  of its own, created, migrated and dropped here) and collected static files (WhiteNoise),
  media served by the app (no bucket). It serves HTTPS itself with a throw-away certificate,
  standing in for the TLS proxy in front of it in production: the production settings stay
  exactly as they are (HTTPS redirect, Secure cookies, HSTS), and the browser accepts the
  certificate;
- a Celery worker and a separate beat on Redis (databases 12 and 13 for broker and cache);
- the fake Stripe (tests/fakes/stripe_server.py) as STRIPE_API_BASE: the real SDK creates the
  Checkout Session there, the browser pays on its hosted page, and it delivers the signed
  `checkout.session.completed` event to the real /webhooks/stripe/ over HTTPS.

The operator creates a competition with the real services (`manage.py shell`, since
production refuses `seed_demo`), the customer signs up, answers, buys and sees the tickets,
the competition is closed early with the dates service (the test's stand-in for the clock)
and beat's automatic draw draws it; the verification page says every check passes. Every
stylesheet, script and image the pages use must answer 200. Screenshots, and the logs of
gunicorn, the worker and beat, go to test-artefacts/production/. Needs PostgreSQL
(DATABASE_URL), Redis (REDIS_URL), openssl and chromium; skips naming what is missing.
"""

import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import environ
import pytest

from tests.browser.test_journey import CHROMIUM_ARGS, PASSWORD, TIMEOUT_MS, csp_violations
from tests.fakes import stripe_server
from tests.test_production import production_env

ROOT = Path(__file__).resolve().parent.parent.parent
ARTEFACTS = ROOT / "test-artefacts" / "production"
SEED = Path(__file__).with_name("create_competition.py")
OPERATOR_EMAIL = "operator@fairdraw.example"
WEBHOOK_SECRET = "whsec_production_journey"
STARTUP_SECONDS = 60

# Redis databases of this test's own (the worker tests use 14): broker and cache.
REDIS_DBS = os.environ.get("FAIRDRAW_PRODUCTION_TEST_REDIS_DBS", "12,13").split(",")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_config() -> dict:
    url = os.environ.get("DATABASE_URL", "")
    config = environ.Env.db_url_config(url) if url else {}
    if "postgresql" not in config.get("ENGINE", ""):
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://... (CI does)")
    return config


def redis_urls() -> tuple[str, str]:
    import redis

    base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0]
    urls = tuple(f"{base}/{db}" for db in REDIS_DBS[:2])
    for url in urls:
        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=1)
            client.ping()
            client.flushdb()
        except redis.RedisError as error:
            pytest.skip(f"needs Redis at {url} (REDIS_URL): {error}")
    return urls


def fresh_database(config: dict) -> tuple[str, Callable[[], None]]:
    """Create `<DATABASE_URL's name>_live` afresh; returns its URL and how to drop it."""
    import psycopg

    name = f"{config['NAME']}_live"
    params = {
        "host": config.get("HOST") or "127.0.0.1",
        "port": config.get("PORT") or 5432,
        "user": config.get("USER") or "postgres",
        "password": config.get("PASSWORD") or None,
        "dbname": "postgres",
        "autocommit": True,
    }

    def drop():
        with psycopg.connect(**params) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    try:
        drop()
        with psycopg.connect(**params) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as error:
        pytest.skip(f"needs PostgreSQL at {params['host']}:{params['port']}: {error}")
    auth = params["user"] + (f":{params['password']}" if params["password"] else "")
    return f"postgres://{auth}@{params['host']}:{params['port']}/{name}", drop


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command for the site's throw-away certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


class Site:
    """The processes of one production deployment, their logs, and how to reach them."""

    def __init__(self, folder: Path, env: dict, port: int, tls: ssl.SSLContext):
        self.folder = folder
        self.env = env
        self.url = f"https://127.0.0.1:{port}"
        self.tls = tls
        self.processes: dict[str, subprocess.Popen] = {}
        self.stripe: stripe_server.FakeStripe | None = None

    def manage(self, *args, check=True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            pytest.fail(f"manage.py {' '.join(args[:2])} failed:\n{result.stdout}{result.stderr}")
        return result

    def start(self, name: str, *args) -> None:
        log = (self.folder / f"{name}.log").open("w")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with all its children
        )
        log.close()

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self) -> str:
        return "\n".join(f"--- {name}.log ---\n{self.log(name)[-6000:]}" for name in self.processes)

    def wait_for(self, what: str, predicate, timeout: float = STARTUP_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            dead = [n for n, p in self.processes.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                pytest.fail(f"{what}: not in time (stopped: {dead})\n{self.logs()}")
            time.sleep(0.25)

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10, context=self.tls) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except OSError:
            return 0, b""

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        ARTEFACTS.mkdir(parents=True, exist_ok=True)  # the logs outlive the temporary folder
        for name in self.processes:
            shutil.copyfile(self.folder / f"{name}.log", ARTEFACTS / f"{name}.log")


@pytest.fixture
def site(request):
    """Fairdraw deployed as production on this machine, with the fake Stripe beside it."""
    config = postgres_config()
    broker_url, cache_url = redis_urls()
    folder = Path(tempfile.mkdtemp(prefix="fairdraw-production-"))
    request.addfinalizer(lambda: shutil.rmtree(folder, ignore_errors=True))
    cert, key = self_signed_certificate(folder)
    database_url, drop_database = fresh_database(config)
    request.addfinalizer(drop_database)
    fake, server = stripe_server.start()

    def stop_fake():
        server.shutdown()
        server.server_close()

    request.addfinalizer(stop_fake)

    port = free_port()
    env = production_env(
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DATABASE_URL=database_url,
        CACHE_URL=cache_url,
        CELERY_BROKER_URL=broker_url,
        STRIPE_SECRET_KEY="sk_test_fairdraw_production_journey",
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STRIPE_API_BASE=fake.url,
        STRIPE_CHECKOUT_ORIGIN=fake.url,  # its hosted checkout page (CSP form-action)
        SITE_URL=f"https://127.0.0.1:{port}",
        STATIC_ROOT=str(folder / "static"),
        MEDIA_ROOT=str(folder / "media"),
        FAIRDRAW_BEAT_INTERVAL_SECONDS="1",
        FAIRDRAW_BEACON_MARGIN_SECONDS="3",  # the draw waits for a round 3 s after close
        DJANGO_SUPERUSER_EMAIL=OPERATOR_EMAIL,
        DJANGO_SUPERUSER_PASSWORD=PASSWORD,
        DJANGO_SUPERUSER_FIRST_NAME="Olivia",
        PYTHONUNBUFFERED="1",
        REDIS_URL=None,
        DJANGO_DEBUG=None,
        FAIRDRAW_DEV_TOOLS=None,
    )
    tls = ssl.create_default_context(cafile=str(cert))
    deployment = Site(folder, env, port, tls)
    request.addfinalizer(deployment.stop)

    # What the release step runs, then the operator's first account.
    deployment.manage("migrate", "--noinput")
    deployment.manage("collectstatic", "--noinput")
    deployment.manage("check", "--deploy", "--fail-level", "WARNING")
    deployment.manage("createsuperuser", "--noinput")
    # The deploy check passed with production's beacon (drand). This machine has no network and
    # nobody can sign a fresh quicknet round, so the processes below draw with the demo beacon,
    # which the deploy check refuses (tests/test_production.py); everything else is production.
    deployment.env = {**deployment.env, "FAIRDRAW_BEACON": "demo"}

    deployment.start(
        "gunicorn", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2",
        "--certfile", str(cert), "--keyfile", str(key), "--access-logfile", "-",
    )  # fmt: skip
    deployment.start("worker", "celery", "-A", "config", "worker", "--pool=solo", "-l", "INFO")
    deployment.start(
        "beat", "celery", "-A", "config", "beat", "-l", "INFO",
        "--schedule", str(folder / "celerybeat-schedule"),
    )  # fmt: skip
    deployment.wait_for("gunicorn answering /readyz", lambda: deployment.get("/readyz")[0] == 200)
    deployment.wait_for("the Celery worker", lambda: "ready." in deployment.log("worker"))
    deployment.wait_for("Celery beat", lambda: "Sending due task" in deployment.log("beat"))

    fake.webhook_url = f"{deployment.url}/webhooks/stripe/"
    fake.webhook_secret = WEBHOOK_SECRET
    fake.webhook_ssl_context = tls
    deployment.stripe = fake
    return deployment


class Assets:
    """Every stylesheet, script, image and font the browser loads, and what it answered."""

    KINDS = {"stylesheet", "script", "image", "font"}

    def __init__(self, page):
        self.seen: dict[str, int] = {}
        self.failed: list[str] = []
        page.on("response", self._response)
        page.on("requestfailed", lambda r: self.failed.append(f"{r.url} ({r.failure})"))
        self.page = page

    def _response(self, response):
        if response.request.resource_type in self.KINDS:
            self.seen[response.url] = response.status

    def collect(self) -> None:
        """Also what the page references but the browser may not have loaded (lazy images,
        icons in an SVG sprite, preloads)."""
        urls = self.page.eval_on_selector_all(
            "link[rel~=stylesheet][href], link[rel~=icon][href], link[rel=preload][href], "
            "script[src], img[src], source[srcset], use[href]",
            """nodes => nodes.map(n => {
                const raw = n.getAttribute('href') || n.getAttribute('src')
                    || (n.getAttribute('srcset') || '').split(' ')[0];
                return new URL(raw, document.baseURI).href.split('#')[0];
            })""",
        )
        for url in urls:
            self.seen.setdefault(url, 0)

    def check(self, request_context) -> dict[str, int]:
        answers = {}
        for url, status in sorted(self.seen.items()):
            if status not in (200, 304):
                status = request_context.get(url).status
            answers[url] = status
        return answers


class Shots:
    def __init__(self, page):
        self.page = page
        self.step = 0
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        for old in [*ARTEFACTS.glob("*.png"), *ARTEFACTS.glob("*.log")]:
            old.unlink()

    def __call__(self, name: str) -> None:
        self.step += 1
        self.page.screenshot(path=str(ARTEFACTS / f"{self.step:02d}-{name}.png"), full_page=True)


def test_a_customer_buys_and_the_draw_verifies_on_the_production_deployment(
    site, chromium, playwright_api
):
    from playwright.sync_api import expect

    started = time.monotonic()
    seeded = site.manage("shell", "-c", SEED.read_text()).stdout.strip().splitlines()[-1]
    competition = json.loads(seeded)
    fake = site.stripe

    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 900},
                locale="en-GB",
                ignore_https_errors=True,  # the throw-away certificate
            )
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            assets, shot = Assets(page), Shots(page)
            # The production Content-Security-Policy must block nothing the site needs.
            blocked = csp_violations(page)

            def visit(path: str) -> None:
                page.goto(site.url + path)
                assets.collect()

            # 1. The shop window, over HTTPS from gunicorn. A request the proxy says came in
            #    over plain HTTP is sent to HTTPS.
            visit("/")
            expect(page.get_by_role("heading", level=1)).to_be_visible()
            shot("home")
            plain = context.request.get(
                site.url + "/", headers={"X-Forwarded-Proto": "http"}, max_redirects=0
            )
            assert plain.status == 301
            assert plain.headers["location"] == site.url + "/"

            # 2. Sign up: a "check your e-mail" page, and nobody logged in yet.
            page.get_by_role("navigation", name="Main").get_by_role("link", name="Log in").click()
            page.get_by_role("link", name="Create an account").click()
            expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
            assets.collect()
            page.get_by_label("First name").fill("Priya")
            page.get_by_label("Last name").fill("Shah")
            page.get_by_label("Date of birth").fill("1990-11-02")
            page.get_by_label("Mobile number").fill("07700 900456")
            page.get_by_label("E-mail address").fill("priya.shah@example.com")
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_label("Confirm password").fill(PASSWORD)
            shot("sign-up")
            page.get_by_role("button", name="Create account").click()
            expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
            assets.collect()
            shot("check-e-mail")

            # 2a. Open the confirmation link, which logs the customer in. With no SMTP
            #     configured, production's e-mail backend is the console: the operator's log.
            confirm = re.compile(r"https://\S+/account/confirm-email/\S+/")
            site.wait_for("the confirmation e-mail", lambda: confirm.search(site.log("gunicorn")))
            page.goto(confirm.search(site.log("gunicorn")).group(0))
            expect(page.get_by_role("heading", name="Confirm your e-mail address")).to_be_visible()
            page.get_by_role("button", name="Confirm my e-mail address").click()
            expect(page.get_by_text(re.compile("is confirmed"))).to_be_visible()
            expect(page.get_by_text("Welcome to Fairdraw, Priya!")).to_be_visible()
            shot("e-mail-confirmed")
            session_cookie = next(c for c in context.cookies() if c["name"] == "sessionid")
            assert session_cookie["secure"] and session_cookie["httpOnly"]

            # 2b. Then the monthly limit asked for before playing.
            page.get_by_label("Monthly spending limit (£)").fill("50")
            page.get_by_role("button", name="Save limit").click()
            expect(page.get_by_text("Your new limit is in force now.")).to_be_visible()

            # 3. The competition, its picture served by the app, and the skill question.
            visit("/competitions/")
            page.get_by_role("link", name=competition["title"], exact=True).first.click()
            expect(page.get_by_role("heading", name=competition["title"], level=1)).to_be_visible()
            assets.collect()
            assert any("/media/" in url for url in assets.seen), "no competition picture"
            page.get_by_label(competition["answer"], exact=True).check()
            page.get_by_label("Or type a number").fill("3")
            shot("competition")
            page.get_by_role("button", name="Add to basket").click()
            expect(page.get_by_role("heading", name="Your basket")).to_be_visible()
            assets.collect()
            shot("basket")

            # 4. Checkout goes to Stripe Checkout (the fake's hosted page); paying there
            #    delivers the signed event to our webhook and sends the customer back.
            page.get_by_role("link", name="Checkout").click()
            expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
            assets.collect()
            shot("checkout")
            page.get_by_role("button", name=re.compile(r"^Pay ")).click()
            expect(page.get_by_role("heading", name="Fake Stripe Checkout")).to_be_visible()
            assert page.url.startswith(fake.url + "/c/pay/cs_test_")
            shot("stripe-checkout")
            page.get_by_role("button", name="Pay £5.97").click()
            expect(page.get_by_role("heading", name="Your tickets")).to_be_visible()
            assets.collect()
            shot("paid")
            (delivery,) = fake.deliveries
            assert delivery[0] == 200, delivery
            assert json.loads(delivery[1])["outcome"] == "paid"
            (session,) = fake.sessions.values()
            assert session["success_url"].startswith(site.url + "/")

            # 5. The tickets are in the account.
            page.get_by_role("navigation", name="Main").get_by_role("link", name="Account").click()
            expect(page.get_by_role("heading", name="Hello, Priya")).to_be_visible()
            assets.collect()
            numbers = page.get_by_role(
                "list", name=f"In the draw: ticket numbers for {competition['title']}"
            )
            expect(numbers.get_by_role("listitem")).to_have_count(3)
            shot("account")

            # 6. Time passes: the operator closes it (the dates service, as in the admin), and
            #    beat's automatic draw closes, freezes and draws it on the worker.
            site.manage("shell", "-c", CLOSE_NOW.format(slug=competition["slug"]))

            def drawn() -> bool:
                status, body = site.get(f"/api/draws/{competition['id']}")
                return status == 200 and json.loads(body)["status"] == "completed"

            site.wait_for("beat's automatic draw", drawn, timeout=60)
            verified = site.manage("verify_draw", competition["slug"])
            assert "checks passed." in verified.stdout, verified.stdout

            # 7. The public verification page: every check passes.
            visit(f"/competitions/{competition['slug']}/draw/")
            expect(page.get_by_text(re.compile(r"All \d+ checks pass\."))).to_be_visible()
            shot("verification")

            assert not assets.failed, assets.failed
            assert not blocked, blocked
            answers = assets.check(context.request)
            assert answers and all(s == 200 for s in answers.values()), answers
            assert any(u.endswith(".css") for u in answers) and any(
                u.endswith(".js") for u in answers
            )
        finally:
            browser.close()
    assert time.monotonic() - started < 150


# Run by `manage.py shell -c` under the production settings.
CLOSE_NOW = """
from django.contrib.auth import get_user_model
from django.utils import timezone
from competitions.models import Competition
from competitions.services import competition_change_dates
c = Competition.objects.get(slug="{slug}")
now = timezone.now()
competition_change_dates(
    competition=c, by=get_user_model().objects.get(email="operator@fairdraw.example"),
    starts_at=c.starts_at, ends_at=now, draw_at=now,
)
"""
