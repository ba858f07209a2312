"""A draft is not public: no page, form or API answers an anonymous caller with anything about
it, whether it is looked up by id or by slug (Competition.objects.public())."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import CompetitionFactory, active_competition

pytestmark = pytest.mark.django_db

SECRET = "Unannounced Lamborghini Revuelto"


@pytest.fixture
def draft():
    return CompetitionFactory(title=SECRET, slug="unannounced-lamborghini")


def assert_hidden(response, status=404):
    assert status is None or response.status_code == status
    body = response.content.decode()
    assert SECRET not in body and "Lamborghini" not in body


def test_cart_update_by_id_reveals_nothing(client, draft):
    for data in ({"quantity": "1"}, {"quantity": "0"}, {}):
        url = reverse("tickets:cart_update", args=[draft.pk])
        assert_hidden(client.post(url, data))
    assert_hidden(client.get(reverse("tickets:cart")), status=200)
    assert client.session.get("fairdraw_cart", {}) == {}


def test_a_basket_line_for_a_competition_taken_back_to_draft_is_not_shown(client):
    live = active_competition(title=SECRET, slug="lambo")
    client.post(reverse("tickets:cart_add", args=[live.slug]), {"quantity": "1"})
    assert SECRET in client.get(reverse("tickets:cart")).content.decode()  # on sale: shown
    type(live).objects.filter(pk=live.pk).update(status="draft")
    assert_hidden(client.get(reverse("tickets:cart")), status=200)


def test_api_by_id_reveals_nothing(client, draft):
    assert_hidden(client.get(reverse("api:competition", args=[draft.pk])))
    assert_hidden(client.get(reverse("api:draw", args=[draft.pk])))
    assert_hidden(client.get(reverse("api:user-tickets"), {"competitionId": draft.pk}), status=None)


def test_pages_by_slug_reveal_nothing(client, draft):
    assert_hidden(client.get(f"/competitions/{draft.slug}/"))
    assert_hidden(client.get(f"/competitions/{draft.slug}/draw/"))
    assert_hidden(client.get(f"/competitions/{draft.slug}/draw/ledger.txt"))
    assert_hidden(client.post(reverse("tickets:cart_add", args=[draft.slug]), {"quantity": "1"}))


def test_listings_never_include_drafts(client, draft):
    for status in ("active", "upcoming", "ended", "drawn", "draft"):
        assert_hidden(client.get("/competitions/", {"status": status}), status=200)
        response = Client().get(reverse("api:competitions"), {"status": status})
        assert SECRET not in response.content.decode()
    assert_hidden(client.get("/"), status=200)
