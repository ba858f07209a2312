"""A small rate limiter on Django's cache, for any form or endpoint that strangers can flood.

    from core.ratelimit import client_address, hit

    verdict = hit(f"complaint:ip:{client_address(request)}", limit=5, window=3600)
    if not verdict.allowed:
        ...  # tell them to wait verdict.retry_after seconds

`hit` counts one attempt against `key` and says whether it is within `limit` attempts per
`window` seconds. Keys are whatever the caller limits by: a client address, an account id, an
e-mail address. Limit by more than one (address and account) so that neither a fresh browser
session nor a fresh address gets round it.

A window opens with the first attempt for its key and lasts `window` seconds; the attempts in
it are counted with one atomic cache increment. (A window that opens with its first request
never splits a burst at an arbitrary clock boundary, so a limit means what it says.) The count lives in the default cache, shared by every web process when that
is Redis (production); should the cache be unreachable, the request is let through rather than
failed (the cache backend already logs the outage).
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

PREFIX = "ratelimit"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    count: int  # attempts in this window, this one included
    retry_after: int  # seconds until the window resets (0 when allowed)


def hit(key: str, *, limit: int, window: int, now: float | None = None) -> Verdict:
    """Count one attempt for `key`; allowed while at most `limit` in the current window."""
    now = time.time() if now is None else now
    count_key, since_key = f"{PREFIX}:{key}:{window}", f"{PREFIX}:{key}:{window}:since"
    # Outlive the window a little, so a slow clock never reads an expired count as fresh.
    timeout = window + 60
    try:
        since = cache.get(since_key)
        if since is None or now >= since + window:
            since = now
            cache.set_many({count_key: 1, since_key: since}, timeout)
            count = 1
        else:
            try:
                count = cache.incr(count_key)
            except ValueError:  # expired between get and incr
                cache.set_many({count_key: 1, since_key: now}, timeout)
                since, count = now, 1
    except Exception:
        return Verdict(allowed=True, count=0, retry_after=0)
    if count <= limit:
        return Verdict(allowed=True, count=count, retry_after=0)
    return Verdict(allowed=False, count=count, retry_after=max(1, int(since + window - now)))


def client_address(request) -> str:
    """The caller's IP address. Behind `FAIRDRAW_TRUSTED_PROXIES` proxies (a load balancer),
    the address the nearest trusted proxy saw, read from X-Forwarded-For: the entries further
    left are whatever the client chose to send, so they are never trusted. allauth's log-in and
    sign-up limits read the same setting (ALLAUTH_TRUSTED_PROXY_COUNT), so all limits agree."""
    proxies = getattr(settings, "FAIRDRAW_TRUSTED_PROXIES", 0)
    if proxies:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def wait_phrase(seconds: int) -> str:
    """'about 12 minutes', for messages telling someone when to try again."""
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"about {minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(minutes / 60)
    return f"about {hours} hour{'s' if hours != 1 else ''}"
