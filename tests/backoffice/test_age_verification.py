"""Verifying a customer's age in admin: the action asks how it was checked first, records the
method, who and when (audited), and can be withdrawn with a reason."""

from datetime import date

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import VerificationMethod
from tests.backoffice.conftest import audit_entries, messages_of, post_action
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TEMPLATE = "admin/accounts/user/verify_age.html"


def templates(response) -> list[str]:
    return [t.name for t in response.templates]


def test_verify_asks_how_then_records_method_by_and_when(operations, operations_user):
    customer = UserFactory(first_name="Sarah", last_name="Khan", date_of_birth=date(1990, 5, 17))
    first = post_action(operations, "accounts.user", "verify_age", [customer])
    assert first.status_code == 200 and TEMPLATE in templates(first)
    html = first.content.decode()
    assert customer.email in html and "born 17 May 1990" in html
    assert "Photo ID checked (passport or driving licence)" in html
    customer.refresh_from_db()
    assert not customer.is_verified  # nothing happens before the method is given

    done = post_action(
        operations,
        "accounts.user",
        "verify_age",
        [customer],
        confirmed="yes",
        method=VerificationMethod.DOCUMENT,
        note="Passport ending 4821",
    )
    assert done.status_code == 302
    assert "Verified the age of 1 user." in messages_of(done)
    customer.refresh_from_db()
    assert customer.is_verified and customer.verified_at
    assert customer.verification_method == VerificationMethod.DOCUMENT
    assert customer.verification_note == "Passport ending 4821"
    assert customer.verified_by == operations_user
    [entry] = audit_entries("user.verify", customer)
    assert entry.actor == operations_user
    assert entry.before["is_verified"] is False
    assert entry.after["verification_method"] == "document"
    assert entry.after["verified_by"] == operations_user.pk


def test_other_needs_a_note(operations):
    customer = UserFactory()
    response = post_action(
        operations, "accounts.user", "verify_age", [customer], confirmed="yes", method="other"
    )
    assert response.status_code == 200 and TEMPLATE in templates(response)
    assert "Say how the age was checked." in response.content.decode()
    customer.refresh_from_db()
    assert not customer.is_verified
    assert audit_entries("user.verify") == []


def test_no_method_means_no_verification(operations):
    customer = UserFactory()
    response = post_action(operations, "accounts.user", "verify_age", [customer], confirmed="yes")
    assert TEMPLATE in templates(response)
    customer.refresh_from_db()
    assert not customer.is_verified


def test_an_under_age_or_undated_account_is_not_verified(operations):
    minor = UserFactory(minor=True)
    undated = UserFactory(date_of_birth=None)
    adult = UserFactory()
    done = post_action(
        operations,
        "accounts.user",
        "verify_age",
        [minor, undated, adult],
        confirmed="yes",
        method=VerificationMethod.ELECTRONIC,
    )
    said = " ".join(messages_of(done))
    assert "is under 18" in said and "no date of birth" in said
    assert "Verified the age of 1 user." in said
    for user, verified in ((minor, False), (undated, False), (adult, True)):
        user.refresh_from_db()
        assert user.is_verified is verified


def test_already_verified_customers_are_left_alone(operations):
    verified = UserFactory(is_verified=True, verified_at=timezone.now())
    response = post_action(operations, "accounts.user", "verify_age", [verified])
    assert response.status_code == 302
    assert "already verified" in " ".join(messages_of(response))


def test_withdraw_asks_why_and_is_audited(operations, operations_user):
    customer = UserFactory()
    post_action(
        operations,
        "accounts.user",
        "verify_age",
        [customer],
        confirmed="yes",
        method=VerificationMethod.OPEN_BANKING,
    )
    first = post_action(operations, "accounts.user", "unverify_age", [customer])
    assert "admin/backoffice/confirm.html" in templates(first)
    assert "Open banking" in first.content.decode()

    refused = post_action(operations, "accounts.user", "unverify_age", [customer], confirmed="yes")
    assert any("why" in m for m in messages_of(refused))
    customer.refresh_from_db()
    assert customer.is_verified

    post_action(
        operations,
        "accounts.user",
        "unverify_age",
        [customer],
        confirmed="yes",
        reason="Document was not theirs",
    )
    customer.refresh_from_db()
    assert not customer.is_verified and customer.verification_method == ""
    assert customer.verified_by is None and customer.verified_at is None
    [entry] = audit_entries("user.unverify", customer)
    assert entry.note == "Document was not theirs"
    assert entry.before["verification_method"] == "open_banking"


def test_user_page_shows_how_who_and_when_read_only(operations, operations_user):
    customer = UserFactory()
    post_action(
        operations,
        "accounts.user",
        "verify_age",
        [customer],
        confirmed="yes",
        method=VerificationMethod.OTHER,
        note="Video call with ID",
    )
    html = operations.get(reverse("admin:accounts_user_change", args=[customer.pk])).content
    html = html.decode()
    assert "Other (say how in the note)" in html
    assert "Video call with ID" in html
    assert operations_user.email in html
    for field in ("verification_method", "verification_note", "verified_by", "is_verified"):
        assert f'name="{field}"' not in html


def test_support_is_not_offered_the_actions(support):
    customer = UserFactory()
    response = post_action(
        support, "accounts.user", "verify_age", [customer], confirmed="yes", method="document"
    )
    assert "Verify age" not in response.content.decode()
    customer.refresh_from_db()
    assert not customer.is_verified
