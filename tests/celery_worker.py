"""A real Celery worker (optionally with beat) on Redis, for integration tests.

The worker is a separate process using the test database, so tests that use it must commit
their data (`transactional_db`) and need PostgreSQL (an SQLite test database lives in memory)
and a reachable Redis. Anything else skips with the reason.
"""

import atexit
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis_broker_url() -> str:
    """A Redis database of its own, so a test run never eats another's messages (or flushes
    them): FAIRDRAW_TEST_REDIS_DB if set, else the first of TEST_REDIS_DBS no other live run
    on this machine holds (a lease key in it, taken with SET NX and given back at exit)."""
    import redis

    base = REDIS_URL.rsplit("/", 1)[0]
    try:
        url = _claimed_redis_url(base)
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        client.flushdb()
        client.set(LEASE_KEY, _lease_holder())  # (the flush took it; this run keeps it)
    except redis.RedisError as error:
        pytest.skip(f"needs Redis at {base} (REDIS_URL): {error}")
    return url


# Databases 6, 7 and 15 belong to the load test and the pages benchmark (bench/).
TEST_REDIS_DBS = (14, 13, 12, 11, 10, 9, 8)
LEASE_KEY = "fairdraw:test-run"
_claimed: list[str] = []


def _lease_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _claimed_redis_url(base: str) -> str:
    import redis

    if os.environ.get("FAIRDRAW_TEST_REDIS_DB"):
        return f"{base}/{os.environ['FAIRDRAW_TEST_REDIS_DB']}"
    if _claimed:
        return _claimed[0]
    me = _lease_holder()
    for db in TEST_REDIS_DBS:
        url = f"{base}/{db}"
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        holder = client.get(LEASE_KEY)
        if holder is not None and holder.decode() != me and _alive(holder.decode()):
            continue
        # Free, or held by a run that has ended: take it (NX unless taking over a dead run's).
        if client.set(LEASE_KEY, me, nx=holder is None):
            _claimed.append(url)
            atexit.register(_release, url, me)
            return url
    pytest.skip(f"every test Redis database ({TEST_REDIS_DBS}) is held by another run")


def _alive(holder: str) -> bool:
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's run: not ours to judge
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _release(url: str, me: str) -> None:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        if (client.get(LEASE_KEY) or b"").decode() == me:
            client.delete(LEASE_KEY)
    except redis.RedisError:
        pass


def _database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def reset_broker_pools() -> None:
    """Close and forget every broker connection and producer pool of the app and of kombu.

    Even an eager `.delay()` takes a producer from a pool keyed by the broker URL, and kombu
    caches those pools globally: without this, sends after a broker switch go to the old
    broker, and sends after a worker test acquire from its closed pool. Celery does the same
    after a fork."""
    from kombu import pools

    from config import celery_app

    pools.reset()
    celery_app._after_fork()


class CeleryWorker:
    def __init__(self, *, beat: bool, beat_interval: int):
        if connection.vendor != "postgresql":
            pytest.skip("needs PostgreSQL: the worker process must see the test database")
        self.broker_url = _redis_broker_url()
        reset_broker_pools()
        self.beat = beat
        self._dir = tempfile.TemporaryDirectory(prefix="fairdraw-worker-")
        self.log_path = Path(self._dir.name) / "worker.log"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": self.broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "FAIRDRAW_BEAT_INTERVAL_SECONDS": str(beat_interval),
        }
        self.process = None

    def start(self):
        args = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
        ]
        if self.beat:
            args += ["--beat", "--schedule", str(Path(self._dir.name) / "beat-schedule")]
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            args, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while "ready." not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Celery worker did not start:\n{self.log()}")
            time.sleep(0.2)
        return self

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if getattr(self, "_log", None):
            self._log.close()
        connection.close()  # the worker held connections to the test database too
        self._dir.cleanup()


def wait_until(
    predicate, *, timeout: float = 30, interval: float = 0.25, worker: CeleryWorker | None = None
):
    """Poll until predicate() is true; fail with the worker's log when it never is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    pytest.fail("condition not met in time" + (f"; worker log:\n{worker.log()}" if worker else ""))
