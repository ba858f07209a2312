"""The complaint form can't be flooded by starting a fresh browser session for every message:
it is also limited per client address and per account (core.ratelimit)."""

import pytest
from django.test import Client
from django.urls import reverse

from complaints.models import Complaint
from complaints.views import ADDRESS_SUBMISSIONS_PER_HOUR, SUBMISSIONS_PER_HOUR
from tests.complaints.test_complaints import form_data
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = reverse("complaints:new")


def fresh_session(address: str, user=None) -> Client:
    client = Client(REMOTE_ADDR=address)
    if user is not None:
        client.force_login(user)
    return client


def test_fresh_sessions_from_one_address_are_throttled():
    for n in range(ADDRESS_SUBMISSIONS_PER_HOUR):
        response = fresh_session("203.0.113.7").post(URL, form_data(email=f"c{n}@example.com"))
        assert response.status_code == 302, n
    response = fresh_session("203.0.113.7").post(URL, form_data(email="late@example.com"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "several complaints from your account or your connection" in page
    assert "Please wait about" in page
    assert Complaint.objects.count() == ADDRESS_SUBMISSIONS_PER_HOUR

    # Someone else, elsewhere, is not affected.
    other = fresh_session("198.51.100.2").post(URL, form_data(email="else@example.com"))
    assert other.status_code == 302


def test_one_account_is_throttled_whatever_session_or_address_it_uses():
    customer = UserFactory(email="sarah.khan@example.com")
    for n in range(SUBMISSIONS_PER_HOUR):
        client = fresh_session(f"203.0.113.{n + 1}", customer)
        assert client.post(URL, form_data()).status_code == 302, n
    response = fresh_session("203.0.113.99", customer).post(URL, form_data())
    assert response.status_code == 200
    assert "several complaints from your account" in response.content.decode()
    assert Complaint.objects.filter(user=customer).count() == SUBMISSIONS_PER_HOUR
