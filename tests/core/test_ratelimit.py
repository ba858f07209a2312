from django.test import RequestFactory

from core.ratelimit import client_address, hit, wait_phrase


def test_hit_allows_up_to_the_limit_in_a_window_then_says_how_long_to_wait():
    start = 1_000_000 * 60.0  # the start of a one-minute window
    verdicts = [hit("test:a", limit=2, window=60, now=start + i) for i in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, False]
    assert verdicts[2].count == 3 and verdicts[2].retry_after == 58
    # Other keys have their own count; the next window starts afresh.
    assert hit("test:b", limit=2, window=60, now=start).allowed
    assert hit("test:a", limit=2, window=60, now=start + 60).allowed


def test_client_address_trusts_only_the_configured_proxies(settings):
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7"
    )
    settings.FAIRDRAW_TRUSTED_PROXIES = 0
    assert client_address(request) == "10.0.0.1"
    settings.FAIRDRAW_TRUSTED_PROXIES = 1
    assert client_address(request) == "203.0.113.7"  # not the client-chosen 6.6.6.6


def test_wait_phrase():
    assert wait_phrase(30) == "about 1 minute"
    assert wait_phrase(25 * 60) == "about 25 minutes"
    assert wait_phrase(2 * 3600) == "about 2 hours"
