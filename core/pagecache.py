"""Public pages served from the cache to anonymous visitors (docs/architecture.md §8).

A launch sends thousands of visitors to the same few pages; each is built once every few
seconds and the rest are served the stored bytes. `@cached_for_anonymous(params=...)` on a
view does it. What makes that safe:

- **Who.** Only GET requests that carry neither a session cookie nor a messages cookie: the
  visitor is signed out and has nothing of their own on the page (no basket, no "added to
  your basket" message). Anyone signed in, or with a basket, gets the page built for them,
  and it is never stored.
- **What.** Only a plain 200 response built without setting a cookie, saving the session
  or queueing a message. The key is the view, the scheme and host (the API writes absolute
  URLs), the path and only the query parameters the view reads (`params`), so
  `?utm_source=…` shares its page and cannot fill the cache.
- **The CSRF token.** A form's token is the visitor's own. A stored page keeps a placeholder
  where it was; every response served from the cache gets the visitor's own token put back
  (and CsrfViewMiddleware sends the matching cookie, as for any page with a form).
- **How fresh.** A page is fresh for `FAIRDRAW_PAGE_CACHE_SECONDS` (5 s; 0 turns the cache
  off): counters, "sold out" and countdowns are at most that stale. Content (titles, prizes,
  photos, draws, winners) carries a version: `content_changed()`, called when it is saved
  (pages/apps.py), starts a new version once the transaction commits, and a page built
  from an older version is never served, not even as the stale copy: an edit shows on the
  next request. Writes that bypass `save()` (queryset updates: the ticket counters) are
  covered by the short freshness alone.
- **Cheap hits.** A page is gzipped once when stored and sent compressed to clients that
  accept it (never one with a CSRF token). The version and the page are read in one round
  trip. Each process also keeps the pages it served and the version it last read, and
  trusts that version for `FAIRDRAW_PAGE_CACHE_LOCAL_SECONDS` (1 s; 0: ask the shared
  cache every time), so most hits cost no round trip. An edit therefore shows at once in
  the process that saved it (a web worker or a Celery worker) and within that second in
  the others.
- **A cold cache under load.** The first request to take the page's lock (`cache.add`)
  builds it; meanwhile the others serve the stale copy, kept `FAIRDRAW_PAGE_CACHE_STALE_SECONDS`
  after it goes stale, or, with none (cold, or just after an edit), wait up to `LOCK_WAIT`
  for it. Each page is built about once per interval, not once per request.
- **A cache that is down** (config/cache.py turns errors into misses): pages are built for
  every request, as if there were no cache.
"""

import gzip
import hashlib
import threading
import time
import uuid
from collections import OrderedDict
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.utils.cache import patch_vary_headers

VERSION_KEY = "pagecache:content-version"
LOCK_SECONDS = 10  # a builder that died frees the lock after this
LOCK_WAIT = 2.0  # how long a request waits for someone else to build a page it lacks
POLL = 0.02
CSRF_INPUT = b'name="csrfmiddlewaretoken" value="'
CSRF_PLACEHOLDER = b"__fairdraw_csrf_token__"
PROCESS_PAGES = 256  # pages each process keeps a copy of, the least recently used dropped
GZIP_FROM = 1024  # bytes: smaller pages are sent as they are


class _ProcessCopies:
    """This process's copies of the pages it served and of the content version it last read."""

    def __init__(self):
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._pages: OrderedDict[str, dict] = OrderedDict()
            self._version: str | None = None
            self._read_at = 0.0

    def version(self) -> str | None:
        """The version last read, while it may still be trusted."""
        if time.monotonic() - self._read_at < settings.FAIRDRAW_PAGE_CACHE_LOCAL_SECONDS:
            return self._version
        return None

    def remember_version(self, version: str) -> None:
        self._version, self._read_at = version, time.monotonic()

    def page(self, key: str) -> dict | None:
        return self._pages.get(key)

    def keep(self, key: str, entry: dict) -> None:
        with self._lock:
            self._pages[key] = entry
            self._pages.move_to_end(key)
            while len(self._pages) > PROCESS_PAGES:
                self._pages.popitem(last=False)


_copies = _ProcessCopies()


def content_changed() -> None:
    """Public content changed: pages built from now on, once this transaction commits, are
    new ones. Called for every save of what the public pages show (pages/apps.py)."""
    transaction.on_commit(_new_version)


def _new_version() -> None:
    cache.set(VERSION_KEY, uuid.uuid4().hex, None)
    _copies.clear()


def _content_version(known: str | None = None) -> str | None:
    """The current content version (`known`, if already read), or None when the cache does
    not work (then nothing is stored or waited for)."""
    if known is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, None)
        known = cache.get(VERSION_KEY)
    return known


def _anonymous(request) -> bool:
    return request.method == "GET" and not (
        settings.SESSION_COOKIE_NAME in request.COOKIES
        or getattr(settings, "MESSAGES_COOKIE_NAME", "messages") in request.COOKIES
    )


def _storable(request, response) -> bool:
    """A response that is the same for every anonymous visitor."""
    if response.status_code != 200 or response.streaming or response.cookies:
        return False
    if not getattr(response, "is_rendered", True):  # a TemplateResponse not rendered yet
        return False
    session = getattr(request, "session", None)
    if session is not None and session.modified:
        return False
    messages = getattr(request, "_messages", None)
    if messages is not None and getattr(messages, "added_new", False):
        return False
    user = getattr(request, "user", None)
    return not (user is not None and user.is_authenticated)


def _key(view, request, params) -> str:
    parts = [
        f"{view.__module__}.{view.__qualname__}",
        request.scheme,
        request.get_host(),
        request.path,
        *(f"{name}={request.GET.get(name, '')}" for name in params),
    ]
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:40]
    return f"pagecache:{digest}"


def _entry(response, version: str, now: float) -> dict:
    body = response.content
    start = body.find(CSRF_INPUT)
    while start != -1:  # the token is the visitor's: keep a placeholder instead
        start += len(CSRF_INPUT)
        end = body.index(b'"', start)
        body = body[:start] + CSRF_PLACEHOLDER + body[end:]
        start = body.find(CSRF_INPUT, start)
    # Compressed once here rather than per request. Never a page with a CSRF token: that
    # is put in per request, and a compressed secret beside page content invites BREACH.
    compressed = (
        gzip.compress(body, 6)
        if len(body) >= GZIP_FROM
        and CSRF_PLACEHOLDER not in body
        and "Content-Encoding" not in response
        else None
    )
    return {
        "version": version,
        "built": now,
        "status": response.status_code,
        "headers": dict(response.headers),
        "body": body,
        "gzip": compressed,
    }


def _current(entry: dict | None, version: str | None) -> dict | None:
    """The entry if it was built from the current content (an older one is never served)."""
    if entry is None or version is None or entry.get("version") != version:
        return None
    return entry


def _response(request, entry: dict) -> HttpResponse:
    body, compressed = entry["body"], entry.get("gzip")
    if CSRF_PLACEHOLDER in body:
        body = body.replace(CSRF_PLACEHOLDER, get_token(request).encode())
    send_compressed = compressed is not None and _accepts_gzip(request)
    response = HttpResponse(compressed if send_compressed else body, status=entry["status"])
    for name, value in entry["headers"].items():
        response.headers[name] = value
    if send_compressed:
        response.headers["Content-Encoding"] = "gzip"
    # A signed-in visitor's page differs; so does the compressed one.
    patch_vary_headers(response, ("Cookie", "Accept-Encoding") if compressed else ("Cookie",))
    return response


def _accepts_gzip(request) -> bool:
    return any(
        coding.split(";")[0].strip() == "gzip"
        and "q=0" not in coding.replace(" ", "").split(";")[1:]
        for coding in request.headers.get("Accept-Encoding", "").split(",")
    )


def cached_for_anonymous(*, params: tuple[str, ...] = (), timeout: int | None = None):
    """Serve the view from the cache to anonymous visitors (see the module's docstring).

    `params`: the query parameters the view reads; any other is ignored by the key, so the
    view must not read one that is not listed. `timeout`: seconds a page stays fresh
    (default `FAIRDRAW_PAGE_CACHE_SECONDS`)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            fresh_for = settings.FAIRDRAW_PAGE_CACHE_SECONDS if timeout is None else timeout
            if fresh_for <= 0 or not _anonymous(request):
                return view(request, *args, **kwargs)
            key = _key(view, request, params)
            lock = f"{key}:lock"
            version = _copies.version()
            entry = _current(_copies.page(key), version)
            if entry is not None and time.time() - entry["built"] < fresh_for:
                return _response(request, entry)
            # One round trip: the content version and the page, which is only good for it.
            found = cache.get_many([VERSION_KEY, key])
            version = _content_version(found.get(VERSION_KEY))
            if version is None:
                return view(request, *args, **kwargs)
            _copies.remember_version(version)
            entry = _current(found.get(key), version)
            if entry is not None and time.time() - entry["built"] < fresh_for:
                _copies.keep(key, entry)
                return _response(request, entry)
            building = cache.add(lock, 1, LOCK_SECONDS)
            if not building:
                if entry is not None:  # someone is rebuilding it: the stale copy meanwhile
                    return _response(request, entry)
                deadline = time.monotonic() + LOCK_WAIT
                while time.monotonic() < deadline and cache.get(lock) is not None:
                    time.sleep(POLL)
                    if (entry := _current(cache.get(key), version)) is not None:
                        return _response(request, entry)
                # Nothing came (the page is not storable, e.g. a 404, or its builder died).
            try:
                response = view(request, *args, **kwargs)
                if _storable(request, response):
                    keep = fresh_for + settings.FAIRDRAW_PAGE_CACHE_STALE_SECONDS
                    entry = _entry(response, version, time.time())
                    cache.set(key, entry, keep)
                    _copies.keep(key, entry)
            finally:
                if building:
                    cache.delete(lock)
            return response

        return wrapper

    return decorator
