"""Request ids with one log line per request, "busy, try again" pages instead of 500s, and the
Permissions-Policy header."""

import logging
import re
import time
import uuid

from django.conf import settings
from django.db import OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.utils.cache import add_never_cache_headers

from draws.exceptions import DrawBusy
from tickets.exceptions import Busy

from . import logging as fairdraw_logging

request_logger = logging.getLogger("fairdraw.request")
logger = logging.getLogger(__name__)

# An id handed over by the load balancer is kept if it looks like one.
_INCOMING_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class RequestIdMiddleware:
    """Gives each request an id (the incoming X-Request-ID, or a new one), puts it on every log
    line written while serving it and on the response, and logs one line when it is done."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.id = incoming if _INCOMING_ID.fullmatch(incoming) else uuid.uuid4().hex
        # Not reset on the way out: Django logs 4xx/5xx responses ("django.request") after the
        # middleware has returned, and those lines should carry the id too. The next request
        # served by this thread sets its own.
        fairdraw_logging.request_id.set(request.id)
        started = time.monotonic()
        response = self.get_response(request)
        response["X-Request-ID"] = request.id
        duration_ms = round((time.monotonic() - started) * 1000)
        request_logger.info(
            "%s %s %s %dms",
            request.method,
            request.path,
            response.status_code,
            duration_ms,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": duration_ms,
            },
        )
        return response


# What PostgreSQL (and SQLite) say when the database is there but cannot take this request
# now: connections exhausted, a lock not granted in time, the server (re)starting or away.
# Any other OperationalError is a bug or a broken schema and stays a 500.
_BUSY_DATABASE = re.compile(
    r"too many clients|remaining connection slots|too many connections"
    r"|lock timeout|could not obtain lock|database is locked"
    r"|the database system is (starting up|shutting down|in recovery mode)"
    r"|connection refused|could not connect|server closed the connection unexpectedly",
    re.IGNORECASE,
)
RETRY_AFTER_SECONDS = 30


def is_busy(exception: Exception) -> bool:
    if isinstance(exception, Busy | DrawBusy):
        return True
    return isinstance(exception, OperationalError) and bool(_BUSY_DATABASE.search(str(exception)))


class ServiceUnavailableMiddleware:
    """A view that fails because the database is saturated (or a competition is too busy)
    answers 503 with Retry-After and a friendly page, not a 500: the customer is told to try
    again, the load balancer and monitoring see an overload rather than a bug."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_busy(exception):
            return None
        logger.warning(
            "Busy, answered 503: %s %s: %s: %s",
            request.method,
            request.path,
            type(exception).__name__,
            str(exception).strip().splitlines()[0] if str(exception).strip() else "",
        )
        if request.path.startswith("/api/"):
            response = JsonResponse(
                {"error": "busy", "detail": "Please try again shortly."}, status=503
            )
        else:
            response = HttpResponse(loader.render_to_string("503.html"), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        add_never_cache_headers(response)
        return response


def permissions_policy_header(policy: dict[str, list[str]]) -> str:
    """`{"camera": [], "payment": ["self"]}` as the header says it: `camera=(), payment=(self)`.
    "self" and "*" are keywords; anything else is an origin, quoted."""

    def allow(origin: str) -> str:
        return origin if origin in ("self", "*") else f'"{origin}"'

    return ", ".join(
        f"{feature}=({' '.join(allow(o) for o in origins)})" for feature, origins in policy.items()
    )


class PermissionsPolicyMiddleware:
    """Puts settings.PERMISSIONS_POLICY on every response that has none of its own."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.header = permissions_policy_header(getattr(settings, "PERMISSIONS_POLICY", {}))

    def __call__(self, request):
        response = self.get_response(request)
        if self.header:
            response.headers.setdefault("Permissions-Policy", self.header)
        return response
