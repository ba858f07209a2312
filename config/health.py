"""Health endpoints for load balancers and orchestrators.

`/healthz`: the process answers (liveness). It touches nothing else, so a database outage
never makes an orchestrator restart healthy web containers.
`/readyz`: the database, the cache and the Celery broker answer (readiness). 503 names what
is down, so a load balancer stops sending customers to an instance that cannot serve them.
"""

import logging
import os
import secrets
from pathlib import Path

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

logger = logging.getLogger(__name__)
TIMEOUT_SECONDS = 2


@never_cache
def healthz(request):
    return JsonResponse({"status": "ok"})


def check_database() -> str:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def check_cache() -> str:
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        # Ask Redis itself, for the real error: the backend turns errors into misses.
        backend._cache.get_client(write=True).ping()
    # A round trip through the configured cache: a value that does not come back means the
    # cache is down (or, being per-process, is no cache at all).
    key = f"readyz:{secrets.token_hex(8)}"
    cache.set(key, "ok", 10)
    if cache.get(key) != "ok":
        raise ConnectionError("the value written could not be read back")
    cache.delete(key)
    return "ok"


def check_broker() -> str:
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://")):
        import redis

        client = redis.Redis.from_url(
            url, socket_connect_timeout=TIMEOUT_SECONDS, socket_timeout=TIMEOUT_SECONDS
        )
        try:
            client.ping()
        finally:
            client.close()
        return "ok"
    if url.startswith("filesystem://"):
        # The embedded default: the "broker" is a folder that worker and web share.
        options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
        folder = Path(options.get("data_folder_in", "."))
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError(f"cannot write the queue folder {folder}")
        return "ok (filesystem queue)"
    if url.startswith("memory://"):
        return "ok (in-process)"
    from celery import current_app

    with current_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=TIMEOUT_SECONDS)
    return "ok"


CHECKS = {"database": check_database, "cache": check_cache, "broker": check_broker}


@never_cache
def readyz(request):
    results, down = {}, []
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception as error:  # any failure means "not ready"
            # The answer is public: the kind of error only; hosts and roles go to the log.
            results[name] = f"down: {type(error).__name__}"
            down.append(name)
            logger.warning("Not ready: %s is down: %s: %s", name, type(error).__name__, error)
    if down:
        return JsonResponse({"status": "unavailable", "down": down, "checks": results}, status=503)
    return JsonResponse({"status": "ok", "checks": results})
