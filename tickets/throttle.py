"""Limits on how fast one customer (or one client address) may change baskets and start
checkouts, so nobody can hold a competition's numbers by hammering checkout.

A fixed window per key, opened by its first request, in Django's cache (Redis in production, shared by every web process).
`hit` counts one request and says how long to wait when over the limit. (A stand-in for the
project-wide `core.ratelimit.hit` while that lands; the same shape.)"""

import time

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied

from .exceptions import Throttled


def hit(key: str, limit: int, window: int) -> int:
    """Count a request against `key`: 0 if within `limit` per `window` seconds (a window that
    opens with the first request), else the seconds until the window ends."""
    now = time.time()
    counter = f"throttle:{key}"
    if cache.add(counter, 1, timeout=window):
        cache.set(f"{counter}:since", now, timeout=window)
        return 0
    try:
        count = cache.incr(counter)  # keeps the expiry set by add()
    except ValueError:  # the window closed between add() and incr()
        return hit(key, limit, window)
    if count <= limit:
        return 0
    since = cache.get(f"{counter}:since", now)
    return max(int(since + window - now) + 1, 1)


def client_address(request) -> str:
    # allauth's idea of the client's address (it honours ALLAUTH_TRUSTED_PROXY_COUNT), so the
    # login limits and ours count the same client.
    try:
        return get_adapter(request).get_client_ip(request)
    except PermissionDenied:  # no address at all
        return "unknown"


def check(request, action: str) -> None:
    """Count one `action` ("checkout" or "basket") by this request's account and client
    address; raise Throttled (with how long to wait) when either is over its limit."""
    if action == "checkout":
        limits = [
            ("account", *settings.FAIRDRAW_CHECKOUT_RATE_ACCOUNT),
            ("client", *settings.FAIRDRAW_CHECKOUT_RATE_CLIENT),
        ]
        what = "started a lot of checkouts"
    else:
        limits = [
            ("account", *settings.FAIRDRAW_BASKET_RATE),
            ("client", *settings.FAIRDRAW_BASKET_RATE),
        ]
        what = "changed your basket a lot"
    user = request.user
    wait = 0
    for scope, limit, window in limits:
        if scope == "account":
            if not user.is_authenticated:
                continue
            key = f"{action}:user:{user.pk}"
        else:
            # Several customers may share an address (a household, a mobile network), so the
            # client limit is the looser one for checkouts.
            key = f"{action}:ip:{client_address(request)}"
        wait = max(wait, hit(key, limit, window))
    if wait:
        raise Throttled(
            f"You’ve {what} in a short time. To keep tickets fair for everyone, please wait "
            f"{_duration(wait)} and try again.",
            retry_after=wait,
        )


def _duration(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = -(-seconds // 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"
