"""Limits on how fast one customer (or one client address) may change baskets and start
checkouts, so nobody can hold a competition's numbers by hammering checkout.

Counted with `core.ratelimit` (a window per key, opened by its first request, in the cache
shared by every web process), by account and by client address."""

from django.conf import settings

from core.ratelimit import client_address, hit

from .exceptions import Throttled


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
            ("client", *settings.FAIRDRAW_BASKET_RATE_CLIENT),
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
        wait = max(wait, hit(key, limit=limit, window=window).retry_after)
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
