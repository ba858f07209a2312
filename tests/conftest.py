from contextlib import contextmanager

import pytest
from django.core.cache import cache
from django.db import connection


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache: rate-limit counts (core.ratelimit, allauth's,
    tickets.throttle), used-code markers, cached pages and the receipt key this process found
    published from one test must not leak into the next."""

    from tickets.services.receipts import receipt_key_forget

    cache.clear()
    receipt_key_forget()  # the receipt key's publication is read from each test's own rows
    yield
    cache.clear()


@pytest.fixture
def admin_user(admin_user):
    """pytest-django's superuser, with the confirmed e-mail and the second factor every member
    of staff has (accounts.middleware)."""
    from accounts.services import user_email_verify
    from tests.factories import totp_activate

    user_email_verify(user=admin_user)
    totp_activate(admin_user)
    return admin_user


@pytest.fixture(autouse=True)
def _no_minimum_open_time(settings):
    """Most tests open competitions for minutes or days; the operator's minimum open time has
    its own tests (tests/competitions/test_min_open_time.py), which set it back.

    The setting's home is the OperatorSettings row, created from these settings on first use;
    each test starts without the row (rolled back or flushed), so it is created with 0."""
    settings.FAIRDRAW_MIN_OPEN_CLEAR_DAYS = 0


@pytest.fixture
def on_postgres():
    """Skip (saying why) unless the tests run on PostgreSQL."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://... (CI does)")


@contextmanager
def _running_worker(*, beat: bool):
    from config import celery_app
    from tests.celery_worker import CeleryWorker, reset_broker_pools

    worker = CeleryWorker(beat=beat, beat_interval=1)
    saved = {key: celery_app.conf[key] for key in ("task_always_eager", "broker_url")}
    celery_app.conf.update(task_always_eager=False, broker_url=worker.broker_url)
    try:
        yield worker.start()
    finally:
        worker.stop()
        celery_app.conf.update(saved)
        reset_broker_pools()


@pytest.fixture
def celery_worker(transactional_db):
    """A real Celery worker on Redis (skips without PostgreSQL and Redis). Tasks the test
    sends go to it: the app's eager mode is off and its broker is the worker's meanwhile."""
    with _running_worker(beat=False) as worker:
        yield worker


@pytest.fixture
def celery_beat_worker(transactional_db):
    """Like `celery_worker`, with beat embedded and every periodic job due each second."""
    with _running_worker(beat=True) as worker:
        yield worker
