"""Signed receipts and their signing keys in the back-office: staff find a receipt by reference or
customer, see what was signed and whether it verifies against the published key right now, and
reach the pages the customer checks it on; nobody adds, changes or deletes a receipt or a key
there, and people who are not staff are sent to the login page."""

import copy
from html import unescape
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import UserFactory, active_competition, client_for, correct_answer
from tickets import receipts
from tickets.models import Order, Receipt, ReceiptKey
from tickets.services import order_record_paid, postal_entry_add

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:tickets_receipt_changelist"
KEYS_CHANGELIST = "admin:tickets_receiptkey_changelist"


def page(client, name: str, *args, query: str = ""):
    response = client.get(reverse(name, args=args) + (f"?{query}" if query else ""))
    assert response.status_code == 200, response
    return response


def text(response) -> str:
    return unescape(response.content.decode())


def listed(response) -> list[str]:
    return [receipt.reference for receipt in response.context["cl"].result_list]


def buy(customer, competition, quantity: int, capture) -> Order:
    """A paid order, with its receipt issued as the payment commits."""
    with capture(execute=True):
        return order_record_paid(
            user=customer,
            competition=competition,
            answer=correct_answer(competition),
            quantity=quantity,
        )


@pytest.fixture
def sold(django_capture_on_commit_callbacks):
    """Sarah's paid order for three tickets and her free postal entry, each with its receipt,
    and Tom's order in another competition."""
    sarah = UserFactory(email="sarah.khan@example.com", first_name="Sarah", last_name="Khan")
    tom = UserFactory(email="tom.price@example.com", first_name="Tom", last_name="Price")
    tesla = active_competition(title="Win a Tesla Model 3", slug="win-a-tesla-model-3")
    watch = active_competition(title="Win a Rolex Submariner", slug="win-a-rolex-submariner")
    order = buy(sarah, tesla, 3, django_capture_on_commit_callbacks)
    postal_entry_add(user=sarah, competition=tesla)
    other = buy(tom, watch, 2, django_capture_on_commit_callbacks)
    return SimpleNamespace(
        sarah=sarah,
        tesla=tesla,
        order=order,
        receipt=Receipt.objects.get(order=order),
        postal=Receipt.objects.get(kind=Receipt.Kind.POSTAL),
        other=Receipt.objects.get(order=other),
    )


@pytest.fixture
def operations():
    user = UserFactory(email="ops@fairdraw.example", first_name="Olivia", is_staff=True)
    user.groups.add(Group.objects.get(name="Operations"))
    return client_for(user)


@pytest.fixture
def support():
    user = UserFactory(email="support@fairdraw.example", first_name="Sam", is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    return client_for(user)


# --- the list ------------------------------------------------------------------------------


def test_the_list_shows_each_receipt_with_its_customer_order_competition_and_key(
    admin_client, sold
):
    response = page(admin_client, CHANGELIST)
    html = text(response)

    assert listed(response) == [sold.other.reference, sold.postal.reference, sold.receipt.reference]
    for value in (
        sold.receipt.reference,
        sold.postal.reference,
        "sarah.khan@example.com",
        "tom.price@example.com",
        "Win a Tesla Model 3",
        "Win a Rolex Submariner",
        "Paid order",
        "Free postal entry",
        receipts.DEV_KEY_ID,
    ):
        assert value in html
    assert reverse("admin:tickets_order_change", args=[sold.order.pk]) in html
    assert reverse("admin:competitions_competition_change", args=[sold.tesla.pk]) in html


def test_staff_search_by_reference_or_customer_email_and_filter_by_kind_and_key(admin_client, sold):
    assert listed(page(admin_client, CHANGELIST, query=f"q={sold.receipt.reference}")) == [
        sold.receipt.reference
    ]
    assert listed(page(admin_client, CHANGELIST, query="q=sarah.khan@example.com")) == [
        sold.postal.reference,
        sold.receipt.reference,
    ]
    assert listed(page(admin_client, CHANGELIST, query="q=nobody@example.com")) == []
    assert listed(page(admin_client, CHANGELIST, query="kind__exact=postal")) == [
        sold.postal.reference
    ]
    by_key = page(admin_client, CHANGELIST, query=f"key_id={receipts.DEV_KEY_ID}")
    assert len(listed(by_key)) == 3
    assert listed(page(admin_client, CHANGELIST, query="key_id=another-key")) == []


def test_the_list_costs_the_same_queries_for_one_receipt_as_for_many(
    admin_client, django_capture_on_commit_callbacks
):
    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            response = page(admin_client, CHANGELIST)
        return len(captured), len(response.context["cl"].result_list)

    competition = active_competition(max_tickets=500)
    buy(UserFactory(), competition, 1, django_capture_on_commit_callbacks)
    queries()  # the first page of the session also reads what later ones find cached
    one, rows = queries()
    assert rows == 1

    for n in range(6):
        customer = UserFactory()
        other = active_competition(title=f"Win prize {n}", slug=f"win-prize-{n}")
        buy(customer, other, 2, django_capture_on_commit_callbacks)
        postal_entry_add(user=customer, competition=competition)
    many, rows = queries()
    assert rows == 13
    assert many == one


# --- one receipt ---------------------------------------------------------------------------


def test_the_receipt_page_shows_the_payload_the_signature_and_that_it_verifies(admin_client, sold):
    html = text(page(admin_client, "admin:tickets_receipt_change", sold.receipt.pk))

    assert "✓ Verifies" in html and "Does not verify" not in html
    assert f"Ed25519 signature by key {receipts.DEV_KEY_ID} over the canonical receipt" in html
    assert sold.receipt.signature in html
    assert '"format": "fairdraw.entry-receipt"' in html  # pretty-printed, one key a line
    assert f'"reference": "{sold.receipt.reference}"' in html
    numbers = sorted(sold.order.tickets.values_list("number", flat=True))
    assert ", ".join(f"#{n}" for n in numbers) in html
    # Where the customer checks it: their download, the published keys, the draw page.
    assert reverse("tickets:receipt", args=[sold.receipt.reference]) in html
    assert reverse("tickets:receipt_keys") in html
    assert reverse("draws:detail", args=[sold.tesla.slug]) + "#verify" in html
    key = ReceiptKey.objects.get(key_id=receipts.DEV_KEY_ID)
    assert reverse("admin:tickets_receiptkey_change", args=[key.pk]) in html
    assert reverse("admin:tickets_order_change", args=[sold.order.pk]) in html


def test_a_postal_receipt_verifies_and_links_to_the_postal_entries(admin_client, sold):
    html = text(page(admin_client, "admin:tickets_receipt_change", sold.postal.pk))
    assert "✓ Verifies" in html
    assert f"Free postal entry {sold.postal.reference}" in html
    assert reverse("admin:tickets_postalentry_changelist") in html


def test_a_row_whose_payload_was_tampered_with_shows_it_does_not_verify(admin_client, sold):
    payload = copy.deepcopy(sold.receipt.payload)
    payload["entries"][0]["numbers"].append(999)
    Receipt.objects.filter(pk=sold.receipt.pk).update(payload=payload)

    html = text(page(admin_client, "admin:tickets_receipt_change", sold.receipt.pk))

    assert "✗ Does not verify" in html and "✓ Verifies" not in html
    assert "the signature does not match: forged or altered" in html
    assert "#999" in html  # what the row now claims, shown as it is


@pytest.mark.parametrize(
    "payload",
    [
        ["not", "a", "receipt"],
        {"entries": "none"},
        {"entries": [{"competition": {"id": "7", "slug": "../x"}, "numbers": 5}, "junk"]},
    ],
)
def test_a_row_altered_out_of_shape_still_shows_and_does_not_verify(admin_client, sold, payload):
    Receipt.objects.filter(pk=sold.receipt.pk).update(payload=payload)
    assert sold.receipt.reference in text(page(admin_client, CHANGELIST))
    html = text(page(admin_client, "admin:tickets_receipt_change", sold.receipt.pk))
    assert "✗ Does not verify" in html


def test_a_receipt_whose_key_is_not_published_does_not_verify(admin_client, sold):
    Receipt.objects.filter(pk=sold.receipt.pk).update(key_id="never-published")
    html = text(page(admin_client, "admin:tickets_receipt_change", sold.receipt.pk))
    assert "✗ Does not verify" in html
    assert "never-published (not a published key)" in html


def test_the_order_page_links_to_its_receipt(admin_client, sold):
    html = text(page(admin_client, "admin:tickets_order_change", sold.order.pk))
    receipt_url = reverse("admin:tickets_receipt_change", args=[sold.receipt.pk])
    assert f'<a href="{receipt_url}">Receipt {sold.order.reference}</a>' in html


def test_a_paid_order_without_its_receipt_says_how_it_gets_one(admin_client, sold):
    Receipt.objects.filter(order=sold.order).delete()  # as if its process stopped first
    html = text(page(admin_client, "admin:tickets_order_change", sold.order.pk))
    assert "manage.py issue_receipts" in html


def test_an_unpaid_order_page_says_it_has_no_receipt_yet(admin_client):
    order = Order.objects.create(user=UserFactory())
    html = text(page(admin_client, "admin:tickets_order_change", order.pk))
    assert "None: an order gets one when it is paid." in html


# --- the keys ------------------------------------------------------------------------------


def test_the_key_list_shows_the_published_keys_and_where_keys_come_from(admin_client, sold):
    key = ReceiptKey.objects.get(key_id=receipts.DEV_KEY_ID)
    html = text(page(admin_client, KEYS_CHANGELIST))
    assert key.key_id in html and key.public_key in html
    assert "manage.py receipt_key" in html and "FAIRDRAW_RECEIPT_KEYS" in html
    receipts_url = reverse(CHANGELIST) + f"?key_id={key.key_id}"
    assert receipts_url in html
    assert len(listed(page(admin_client, CHANGELIST, query=f"key_id={key.key_id}"))) == 3
    assert reverse("admin:tickets_receiptkey_add") not in html


def test_after_a_key_change_the_old_key_is_listed_as_retired_and_its_receipts_still_verify(
    admin_client, settings, django_capture_on_commit_callbacks
):
    first, second = (receipts.key_entry(receipts.new_key(k)) for k in ("fd-2026-a", "fd-2026-b"))
    competition = active_competition(max_tickets=100)
    settings.FAIRDRAW_RECEIPT_KEYS = first
    old = buy(UserFactory(), competition, 1, django_capture_on_commit_callbacks)
    settings.FAIRDRAW_RECEIPT_KEYS = f"{second},{first}"
    buy(UserFactory(), competition, 1, django_capture_on_commit_callbacks)

    def keys(query):
        response = page(admin_client, KEYS_CHANGELIST, query=query)
        return [key.key_id for key in response.context["cl"].result_list]

    assert keys("status=current") == ["fd-2026-b"]
    assert keys("status=retired") == ["fd-2026-a"]
    html = text(
        page(admin_client, "admin:tickets_receipt_change", Receipt.objects.get(order=old).pk)
    )
    assert "✓ Verifies" in html
    assert "✓ Key fd-2026-a was valid when the receipt was issued" in html


# --- who may do what -----------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin_client", "operations"])
def test_no_member_of_staff_can_add_change_or_delete_a_receipt_or_a_key(request, sold, who):
    client = request.getfixturevalue(who)
    key = ReceiptKey.objects.get(key_id=receipts.DEV_KEY_ID)
    before = (sold.receipt.payload, sold.receipt.signature, key.public_key, key.retired_at)
    for model, obj in (("receipt", sold.receipt), ("receiptkey", key)):
        change_url = reverse(f"admin:tickets_{model}_change", args=[obj.pk])
        detail = client.get(change_url)
        assert detail.status_code == 200
        assert 'name="_save"' not in detail.content.decode()
        assert client.get(reverse(f"admin:tickets_{model}_add")).status_code == 403
        assert client.post(reverse(f"admin:tickets_{model}_add"), {}).status_code == 403
        assert client.post(change_url, {"signature": "Zm9yZ2Vk", "key_id": "x"}).status_code == 403
        delete_url = reverse(f"admin:tickets_{model}_delete", args=[obj.pk])
        assert client.post(delete_url, {"post": "yes"}).status_code == 403
        listing = client.get(reverse(f"admin:tickets_{model}_changelist"))
        assert "delete_selected" not in listing.content.decode()
        bulk = client.post(
            reverse(f"admin:tickets_{model}_changelist"),
            {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
        )
        assert bulk.status_code in (200, 302)  # "no action selected": nothing happens
    sold.receipt.refresh_from_db()
    key.refresh_from_db()
    assert (sold.receipt.payload, sold.receipt.signature, key.public_key, key.retired_at) == before
    assert Receipt.objects.count() == 3 and ReceiptKey.objects.count() == 1


def test_support_staff_may_look_at_receipts_and_keys(support, sold):
    assert sold.receipt.reference in text(page(support, CHANGELIST))
    html = text(page(support, "admin:tickets_receipt_change", sold.receipt.pk))
    assert "✓ Verifies" in html
    page(support, KEYS_CHANGELIST)


def test_people_who_are_not_staff_are_sent_to_the_login_page(client, sold):
    customer = client_for(sold.sarah)  # even the receipt's own customer
    for who in (client, customer):
        for url in (
            reverse(CHANGELIST),
            reverse("admin:tickets_receipt_change", args=[sold.receipt.pk]),
            reverse(KEYS_CHANGELIST),
        ):
            response = who.get(url)
            assert response.status_code == 302, url
            assert response["Location"].startswith(reverse("admin:login"))
