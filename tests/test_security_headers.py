"""Security headers (issue #14): a Content-Security-Policy and a Permissions-Policy on every
page, and no page that the policy would break: no inline script without the request's nonce,
no inline event handler (onclick=...), no style="" attribute (style-src has no 'unsafe-inline')."""

from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory, active_competition, correct_answer

pytestmark = pytest.mark.django_db


def policy(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


class InlineCode(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' blocks."""

    def __init__(self):
        super().__init__()
        self.problems: list[str] = []
        self.nonces: list[str | None] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>: inline event handler")
        if "style" in attrs:
            self.problems.append(f"<{tag} style={attrs['style']!r}>: inline style")
        if tag == "style":
            self.nonces.append(attrs.get("nonce"))
        if tag == "script" and "src" not in attrs and attrs.get("type") != "application/json":
            self.nonces.append(attrs.get("nonce"))


def assert_safe_under_csp(response):
    assert response.status_code in (200, 404), response
    directives = policy(response)
    assert directives["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-inline'" not in directives["style-src"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "geolocation=()" in response.headers["Permissions-Policy"]
    parser = InlineCode()
    parser.feed(response.content.decode())
    assert parser.problems == [], response.wsgi_request.path
    for nonce in parser.nonces:
        assert nonce and f"'nonce-{nonce}'" in directives["script-src"] + directives["style-src"]


@pytest.fixture
def competition():
    return active_competition(title="Win a Tesla", slug="win-a-tesla")


@pytest.fixture
def customer_client():
    client = Client()
    client.force_login(UserFactory())
    return client


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_public_pages(client, competition):
    for url in (
        "/",
        "/competitions/",
        f"/competitions/{competition.slug}/",
        f"/competitions/{competition.slug}/draw/",
        "/champions/",
        "/how-we-comply/",
        reverse("complaints:new"),
        reverse("tickets:cart"),
        reverse("accounts:login"),
        reverse("accounts:signup"),
        reverse("account_reset_password"),
        "/api/competitions",
        "/no-such-page/",
    ):
        assert_safe_under_csp(client.get(url))


def test_404_page_has_the_headers(client):
    response = client.get("/competitions/no-such-competition/")
    assert response.status_code == 404
    assert_safe_under_csp(response)


def test_account_pages(customer_client, competition):
    customer_client.post(
        reverse("tickets:cart_add", args=[competition.slug]),
        {"quantity": "1", "answer": correct_answer(competition).pk},
    )
    for url in (
        reverse("accounts:dashboard"),
        reverse("accounts:profile"),
        reverse("accounts:limits"),
        reverse("accounts:exclusion"),
        reverse("accounts:password_change"),
        reverse("complaints:list"),
        reverse("tickets:cart"),
        reverse("tickets:checkout"),
    ):
        assert_safe_under_csp(customer_client.get(url))


def test_admin_pages(admin_client, competition):
    user = UserFactory()
    for url in (
        reverse("admin:index"),
        reverse("admin:accounts_user_changelist"),
        reverse("admin:accounts_user_change", args=[user.pk]),
        reverse("admin:auth_user_password_change", args=[user.pk]),
        reverse("admin:competitions_competition_changelist"),
        reverse("admin:competitions_competition_change", args=[competition.pk]),
        reverse("admin:complaints_complaint_changelist"),
        reverse("admin:tickets_order_changelist"),
    ):
        assert_safe_under_csp(admin_client.get(url))
    assert_safe_under_csp(Client().get(reverse("admin:login"), follow=True))  # allauth's log-in


def test_a_nonce_in_a_template_is_in_the_header(rf):
    """An inline script is allowed when it carries the request's nonce: the header names it."""
    from csp.middleware import CSPMiddleware
    from django.template import engines

    template = engines["django"].from_string(
        '<script nonce="{{ request.csp_nonce }}">let x = 1;</script>'
    )

    def view(request):
        from django.http import HttpResponse

        return HttpResponse(template.render({}, request))

    request = rf.get("/")
    response = CSPMiddleware(view)(request)
    parser = InlineCode()
    parser.feed(response.content.decode())
    [nonce] = parser.nonces
    assert f"'nonce-{nonce}'" in policy(response)["script-src"]
