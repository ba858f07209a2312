"""tests/celery_worker.py: each test run takes a Redis database of its own for its worker, so
two runs on one machine (two engineers, or a run beside CI) never eat or flush each other's
messages."""

import socket
import subprocess

import pytest

from tests import celery_worker


@pytest.fixture
def redis_dbs(monkeypatch):
    redis = pytest.importorskip("redis")
    base = celery_worker.REDIS_URL.rsplit("/", 1)[0]
    try:
        redis.Redis.from_url(f"{base}/9", socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        pytest.skip(f"needs Redis ({error})")
    monkeypatch.delenv("FAIRDRAW_TEST_REDIS_DB", raising=False)
    monkeypatch.setattr(celery_worker, "TEST_REDIS_DBS", (9, 8))
    monkeypatch.setattr(celery_worker, "_claimed", [])
    clients = {db: redis.Redis.from_url(f"{base}/{db}") for db in (9, 8)}
    saved = {db: client.get(celery_worker.LEASE_KEY) for db, client in clients.items()}
    if any(saved.values()):
        pytest.skip("another run holds a test Redis database this test uses")
    yield base, clients
    for client in clients.values():
        client.delete(celery_worker.LEASE_KEY)


def test_a_database_another_live_run_holds_is_passed_over(redis_dbs):
    base, clients = redis_dbs
    clients[9].set(celery_worker.LEASE_KEY, f"{socket.gethostname()}:1")  # pid 1 is alive

    assert celery_worker._claimed_redis_url(base) == f"{base}/8"
    assert clients[8].get(celery_worker.LEASE_KEY).decode() == celery_worker._lease_holder()
    assert clients[9].get(celery_worker.LEASE_KEY).decode().endswith(":1")  # left alone


def test_a_run_that_ended_gives_its_database_up(redis_dbs):
    base, clients = redis_dbs
    ended = subprocess.Popen(["true"])
    ended.wait()
    clients[9].set(celery_worker.LEASE_KEY, f"{socket.gethostname()}:{ended.pid}")

    assert celery_worker._claimed_redis_url(base) == f"{base}/9"
    celery_worker._release(f"{base}/9", celery_worker._lease_holder())
    assert clients[9].get(celery_worker.LEASE_KEY) is None
