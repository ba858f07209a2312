"""The page cache (core/pagecache.py): anonymous visitors share pages for a few seconds;
nobody signed in, with a basket or a message ever gets or leaves one; edits show at once."""

import gzip
import re
import threading
import time

import pytest
from django.core.cache import cache
from django.http import HttpResponse
from django.test import Client, RequestFactory

from core import pagecache
from core.pagecache import cached_for_anonymous
from tests.factories import UserFactory, active_competition, correct_answer
from tickets.services import order_record_paid

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def page_cache(settings):
    """The cache on (the test settings turn it off), empty before and after."""
    settings.FAIRDRAW_PAGE_CACHE_SECONDS = 60
    cache.clear()
    pagecache._copies.clear()
    yield settings
    cache.clear()
    pagecache._copies.clear()


@pytest.fixture
def competition(page_cache):
    return active_competition(title="Tesla Model 3", max_tickets=1000, max_tickets_per_user=100)


PUBLIC_PAGES = [
    "/",
    "/competitions/",
    "/competitions/?status=upcoming&page=1",
    "/champions/",
    "/api/competitions?status=active",
]


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_an_anonymous_visitor_is_served_from_the_cache(
    client, competition, path, django_assert_num_queries
):
    first = client.get(path)
    assert first.status_code == 200

    with django_assert_num_queries(0):
        second = client.get(path)

    assert second.status_code == 200
    assert second.content == first.content
    assert second["Content-Type"] == first["Content-Type"]


def test_the_competition_page_is_served_from_the_cache(
    client, competition, django_assert_num_queries
):
    url = competition.get_absolute_url()
    assert "Tesla Model 3" in client.get(url).content.decode()

    with django_assert_num_queries(0):
        page = client.get(url)

    assert page.status_code == 200
    assert "Tesla Model 3" in page.content.decode()


def test_query_parameters_the_view_does_not_read_share_the_page(
    client, competition, django_assert_num_queries
):
    client.get("/competitions/?status=active")

    with django_assert_num_queries(0):
        page = client.get("/competitions/?status=active&utm_source=mail")

    assert "utm_source" not in page.content.decode()


def test_anonymous_visitors_each_get_their_own_csrf_token_and_can_add_to_the_basket(
    competition, django_assert_num_queries
):
    url = competition.get_absolute_url()
    first, second = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True)
    first_token = TOKEN.search(first.get(url).content.decode()).group(1)

    with django_assert_num_queries(0):
        page = second.get(url)
    second_token = TOKEN.search(page.content.decode()).group(1)

    assert "csrftoken" in page.cookies  # the second visitor's own, sent with the cached page
    assert second_token != first_token
    added = second.post(
        f"/cart/add/{competition.slug}/",
        {
            "answer": correct_answer(competition).pk,
            "quantity": 2,
            "csrfmiddlewaretoken": second_token,
        },
    )
    assert added.status_code == 302
    assert added["Location"] == "/cart/"


def test_a_signed_in_customer_never_gets_nor_leaves_a_cached_page(client, competition):
    url = competition.get_absolute_url()
    client.force_login(UserFactory(first_name="Jordan"))
    signed_in = client.get(url).content.decode()
    assert "Account" in signed_in

    anonymous = Client().get(url).content.decode()  # the cache was empty: built for them
    assert "Log in" in anonymous
    assert "Account</span>" not in anonymous

    # And once an anonymous copy is stored, the customer still gets their own page.
    again = client.get(url).content.decode()
    assert "Account</span>" in again
    assert "Log in</span>" not in again


def test_a_visitor_with_a_message_gets_it_and_nobody_else_does(client, competition):
    url = competition.get_absolute_url()
    Client().get(url)  # a cached copy exists
    refused = client.post(f"/cart/add/{competition.slug}/", {"quantity": 0})
    assert refused.status_code == 302

    mine = client.get(url).content.decode()
    theirs = Client().get(url).content.decode()

    assert "Choose how many tickets you would like." in mine
    assert "Choose how many tickets you would like." not in theirs


def test_a_sale_shows_once_the_page_is_no_longer_fresh(client, competition, page_cache):
    page_cache.FAIRDRAW_PAGE_CACHE_SECONDS = 1
    url = competition.get_absolute_url()
    assert "<strong>0</strong> of 1,000 sold" in client.get(url).content.decode()

    order_record_paid(
        user=UserFactory(), competition=competition, answer=correct_answer(competition), quantity=7
    )

    assert "<strong>0</strong> of 1,000 sold" in client.get(url).content.decode()  # fresh copy
    time.sleep(1.05)
    assert "<strong>7</strong> of 1,000 sold" in client.get(url).content.decode()


def test_a_staff_edit_shows_at_once(client, competition, django_capture_on_commit_callbacks):
    url = competition.get_absolute_url()
    client.get(url)
    client.get("/competitions/")

    with django_capture_on_commit_callbacks(execute=True):
        competition.title = "Porsche 911"
        competition.save(update_fields=["title"])

    assert "Porsche 911" in client.get(url).content.decode()
    assert "Porsche 911" in client.get("/competitions/").content.decode()


def test_a_buyer_sees_their_own_tickets_at_once(client, competition):
    buyer = UserFactory()
    Client().get(competition.get_absolute_url())
    order_record_paid(
        user=buyer, competition=competition, answer=correct_answer(competition), quantity=3
    )
    client.force_login(buyer)

    assert (
        "<strong>3</strong> of 1,000 sold"
        in client.get(competition.get_absolute_url()).content.decode()
    )
    assert client.get("/account/").content.decode().count('class="entry"') == 1


# --- the decorator on its own -----------------------------------------------------------------


class CountingView:
    """A view that counts its calls; `respond` shapes its response."""

    def __init__(self, respond=None, delay=0.0):
        self.calls = 0
        self.respond = respond or (lambda request: HttpResponse(f"page {self.calls}"))
        self.delay = delay
        self.__name__ = self.__qualname__ = "CountingView"

    def __call__(self, request):
        self.calls += 1
        time.sleep(self.delay)
        return self.respond(request)


def get(view, path="/x", **cookies):
    request = RequestFactory().get(path)
    request.COOKIES.update(cookies)
    return view(request)


def test_a_response_setting_a_cookie_is_not_cached(page_cache):
    def respond(request):
        response = HttpResponse("hello")
        response.set_cookie("seen", "1")
        return response

    inner = CountingView(respond)
    view = cached_for_anonymous()(inner)
    get(view), get(view)

    assert inner.calls == 2


def test_errors_are_not_cached(page_cache):
    inner = CountingView(lambda request: HttpResponse("gone", status=404))
    view = cached_for_anonymous()(inner)
    get(view), get(view)

    assert inner.calls == 2


def test_a_session_cookie_bypasses_the_cache(page_cache, settings):
    inner = CountingView()
    view = cached_for_anonymous()(inner)
    get(view)
    get(view, **{settings.SESSION_COOKIE_NAME: "abc"})
    get(view, messages="xyz")

    assert inner.calls == 3


def test_a_cold_page_under_load_is_built_once(page_cache):
    inner = CountingView(delay=0.3)
    view = cached_for_anonymous()(inner)
    bodies = []

    threads = [threading.Thread(target=lambda: bodies.append(get(view).content)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert inner.calls == 1
    assert bodies == [b"page 1"] * 8


def test_a_stale_page_is_served_while_another_request_rebuilds_it(page_cache):
    inner = CountingView()
    view = cached_for_anonymous(timeout=1)(inner)
    assert get(view).content == b"page 1"
    time.sleep(1.05)
    request = RequestFactory().get("/x")
    lock = pagecache._key(inner, request, ()) + ":lock"
    assert cache.add(lock, 1)  # another request is rebuilding it

    assert get(view).content == b"page 1"
    assert inner.calls == 1

    cache.delete(lock)
    assert get(view).content == b"page 2"


def test_off_when_the_fresh_time_is_zero(page_cache):
    page_cache.FAIRDRAW_PAGE_CACHE_SECONDS = 0
    inner = CountingView()
    view = cached_for_anonymous()(inner)
    get(view), get(view)

    assert inner.calls == 2


def test_another_process_edit_shows_once_the_version_is_read_again(page_cache):
    page_cache.FAIRDRAW_PAGE_CACHE_LOCAL_SECONDS = 0.2
    inner = CountingView()
    view = cached_for_anonymous()(inner)
    get(view)
    cache.set(pagecache.VERSION_KEY, "saved-by-another-process", None)

    assert get(view).content == b"page 1"  # this process trusts its version a moment longer
    time.sleep(0.25)
    assert get(view).content == b"page 2"


def test_a_cached_page_is_sent_gzipped_to_clients_that_accept_it(client, competition):
    plain = client.get("/competitions/")

    packed = client.get("/competitions/", HTTP_ACCEPT_ENCODING="gzip, deflate, br")

    assert packed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed["Vary"] and "Cookie" in packed["Vary"]
    assert gzip.decompress(packed.content) == plain.content
    assert "Content-Encoding" not in client.get("/competitions/")  # asked for nothing


def test_a_page_with_a_csrf_token_is_never_gzipped(client, competition):
    url = competition.get_absolute_url()
    client.get(url)

    page = client.get(url, HTTP_ACCEPT_ENCODING="gzip")

    assert "Content-Encoding" not in page
    assert TOKEN.search(page.content.decode())
