"""Signed entry receipts: one per paid order and per postal entry, signed with the published
key, downloadable by their owner only, in the tickets API, and rotation of the signing key."""

import base64
import copy
import importlib.util
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

import draws
from tests.factories import UserFactory, active_competition, correct_answer, wrong_answer
from tickets import receipts
from tickets.models import Order, Receipt, ReceiptKey, Ticket
from tickets.selectors import receipt_keys_published
from tickets.services import (
    order_fulfil,
    order_record_paid,
    postal_entry_add,
    receipt_issue,
    receipts_issue_missing,
)

from .conftest import completed_event, post_event
from .helpers import reserve

pytestmark = pytest.mark.django_db


def published_keys(client) -> list[receipts.PublishedKey]:
    body = client.get(reverse("tickets:receipt_keys")).json()
    assert body["algorithm"] == "Ed25519"
    return [receipts.PublishedKey.from_json(item) for item in body["keys"]]


def verifies(document, keys) -> bool:
    return all(check.ok for check in receipts.signature_checks(document, keys))


def key_line(key_id: str) -> str:
    return receipts.key_entry(receipts.new_key(key_id))


@pytest.fixture
def paid(django_capture_on_commit_callbacks):
    """A customer's order for 3 tickets, paid; its receipt issued as the payment commits."""
    competition = active_competition(max_tickets=100)
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        order = order_record_paid(
            user=user, competition=competition, answer=correct_answer(competition), quantity=3
        )
    return order


def test_a_paid_order_gets_one_signed_receipt_with_its_numbers(client, paid):
    receipt = Receipt.objects.get(order=paid)
    payload = receipt.payload
    numbers = sorted(paid.tickets.values_list("number", flat=True))
    competition = paid.lines.get().competition

    assert payload["format"] == "fairdraw.entry-receipt" and payload["version"] == 1
    assert payload["kind"] == "order" and payload["reference"] == paid.reference
    assert payload["entries"] == [
        {
            "competition": {
                "id": competition.pk,
                "slug": competition.slug,
                "title": competition.title,
            },
            "numbers": numbers,
            "in_draw": True,
        }
    ]
    assert receipts.parse_utc(payload["entered_at"]) == paid.paid_at.replace(microsecond=0)
    # Signed with the published (development) key, and the stored copy still verifies.
    assert receipt.key_id == receipts.DEV_KEY_ID
    assert verifies(receipt.document, published_keys(client))
    assert json.loads(json.dumps(receipt.document)) == receipt.document


def test_webhook_redelivery_issues_no_second_receipt(
    client, settings, django_capture_on_commit_callbacks
):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_fairdraw"
    order = reserve(UserFactory(), active_competition(max_tickets=100), quantity=2)
    for event_id in ("evt_1", "evt_1", "evt_2"):  # the same event twice, then a duplicate
        with django_capture_on_commit_callbacks(execute=True):
            assert post_event(client, completed_event(order, event_id=event_id)).status_code == 200

    assert Receipt.objects.filter(order=order).count() == 1
    first = Receipt.objects.get(order=order)
    assert receipt_issue(order_id=order.pk) == first  # idempotent when called again


def test_a_redelivery_issues_a_receipt_that_went_missing(
    client, settings, django_capture_on_commit_callbacks
):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_fairdraw"
    order = reserve(UserFactory(), active_competition(max_tickets=100), quantity=2)
    order_fulfil(order_id=order.pk)
    # Lost: paid before receipts existed, or by a process that could not sign then.
    Receipt.objects.filter(order=order).delete()

    with django_capture_on_commit_callbacks(execute=True):
        post_event(client, completed_event(order, event_id="evt_late"))

    assert Receipt.objects.filter(order=order).count() == 1


def test_no_receipt_for_a_payment_that_was_refunded():
    order = reserve(UserFactory(), active_competition(max_tickets=100), quantity=2)
    result = order_fulfil(order_id=order.pk, amount_paid=order.total - 1)  # wrong amount
    assert result.refund is not None
    assert receipt_issue(order_id=order.pk) is None
    assert receipts_issue_missing() == 0


def test_a_wrong_answer_is_on_the_receipt_as_not_in_the_draw(django_capture_on_commit_callbacks):
    competition = active_competition(max_tickets=100)
    with django_capture_on_commit_callbacks(execute=True):
        order = order_record_paid(
            user=UserFactory(),
            competition=competition,
            answer=wrong_answer(competition),
            quantity=2,
        )
    (entry,) = order.receipt.payload["entries"]
    assert entry["in_draw"] is False and len(entry["numbers"]) == 2


def test_backfill_issues_missing_receipts_once(capsys):
    competition = active_competition(max_tickets=100)
    for _ in range(3):
        order_record_paid(
            user=UserFactory(),
            competition=competition,
            answer=correct_answer(competition),
            quantity=1,
        )
    Receipt.objects.all().delete()  # paid before receipts existed

    call_command("issue_receipts", "--dry-run")
    assert "3 paid order(s) have no receipt" in capsys.readouterr().out
    call_command("issue_receipts")
    call_command("issue_receipts")

    assert Receipt.objects.count() == 3
    assert "Issued 0 receipt(s)" in capsys.readouterr().out


def test_a_postal_entry_gets_its_own_receipt():
    competition = active_competition(max_tickets=100)
    user = UserFactory()
    tickets = postal_entry_add(user=user, competition=competition, quantity=2)
    receipt = Receipt.objects.get(kind=Receipt.Kind.POSTAL)

    assert receipt.user == user and receipt.competition == competition
    assert receipt.reference.startswith("PE-")
    assert receipt.payload["kind"] == "postal"
    assert receipt.payload["entries"][0]["numbers"] == sorted(t.number for t in tickets)
    assert verifies(receipt.document, receipt_keys_published())

    postal_entry_add(user=user, competition=competition, quantity=1)
    assert Receipt.objects.filter(kind=Receipt.Kind.POSTAL).count() == 2


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p["entries"][0]["numbers"].append(99),
        lambda p: p["entries"][0]["numbers"].pop(),
        lambda p: p["entries"][0]["competition"].update(
            id=p["entries"][0]["competition"]["id"] + 1
        ),
        lambda p: p["entries"][0]["competition"].update(slug="another"),
        lambda p: p["entries"][0]["competition"].update(title="Another prize"),
        lambda p: p["entries"][0].update(in_draw=False),
        lambda p: p.update(reference="FD-AAAAAAAA"),
        lambda p: p.update(entered_at="2020-01-01T00:00:00Z"),
        lambda p: p.update(issued_at="2020-01-01T00:00:01Z"),  # (any other moment)
        lambda p: p.update(kind="postal"),
        lambda p: p.update(extra="field"),
    ],
)
def test_tampering_with_any_field_fails_the_signature(paid, change):
    document = copy.deepcopy(paid.receipt.document)
    change(document["receipt"])

    checks = receipts.signature_checks(document, receipt_keys_published())
    signature = next(c for c in checks if c.name.startswith("Ed25519 signature"))
    assert not signature.ok


def test_a_forged_signature_fails(paid):
    forger = receipts.new_key(receipts.DEV_KEY_ID)  # the right key id, the wrong key
    document = forger.sign(copy.deepcopy(paid.receipt.payload))
    assert not verifies(document, receipt_keys_published())
    document = dict(paid.receipt.document, key_id="somebody-else")
    assert not verifies(document, receipt_keys_published())


def test_rotation_new_key_signs_new_receipts_and_old_ones_still_verify(
    client, settings, django_capture_on_commit_callbacks
):
    competition = active_competition(max_tickets=100)
    first, second = key_line("fairdraw-2026-a"), key_line("fairdraw-2026-b")

    def buy():
        with django_capture_on_commit_callbacks(execute=True):
            order = order_record_paid(
                user=UserFactory(),
                competition=competition,
                answer=correct_answer(competition),
                quantity=1,
            )
        return Receipt.objects.get(order=order)

    settings.FAIRDRAW_RECEIPT_KEYS = first
    old = buy()
    settings.FAIRDRAW_RECEIPT_KEYS = f"{second},{first}"
    new = buy()

    assert (old.key_id, new.key_id) == ("fairdraw-2026-a", "fairdraw-2026-b")
    keys = {key.key_id: key for key in published_keys(client)}
    assert keys["fairdraw-2026-a"].retired_at == keys["fairdraw-2026-b"].valid_from
    assert keys["fairdraw-2026-b"].retired_at is None
    assert verifies(old.document, keys.values()) and verifies(new.document, keys.values())

    # The retired key's signature on a receipt dated after it was retired does not verify.
    late = dict(old.payload, issued_at=receipts.utc_text(timezone.now() + timedelta(days=1)))
    forged = receipts.parse_keys(first)[0].sign(late)
    checks = receipts.signature_checks(forged, keys.values())
    assert [c.ok for c in checks if "was valid when" in c.name] == [False]

    # A process still configured with the retired key refuses to sign with it: the order is
    # paid, and its receipt is left for the sweep of a process with the current key.
    settings.FAIRDRAW_RECEIPT_KEYS = first
    with django_capture_on_commit_callbacks(execute=True):
        stale = order_record_paid(
            user=UserFactory(),
            competition=competition,
            answer=correct_answer(competition),
            quantity=1,
        )
    assert stale.status == Order.Status.PAID
    assert not Receipt.objects.filter(order=stale).exists()
    with pytest.raises(receipts.ReceiptKeyError):
        receipt_issue(order_id=stale.pk)
    settings.FAIRDRAW_RECEIPT_KEYS = f"{second},{first}"
    assert receipts_issue_missing() == 1
    assert ReceiptKey.objects.count() == 2


def test_keys_page_publishes_the_current_key_before_it_signs(client, settings):
    settings.FAIRDRAW_RECEIPT_KEYS = key_line("fairdraw-new")
    (key,) = client.get(reverse("tickets:receipt_keys")).json()["keys"]
    assert key["key_id"] == "fairdraw-new" and key["valid_from"] is None
    assert key["status"] == "current"
    assert len(base64.b64decode(key["public_key"])) == 32


def test_only_the_owner_and_staff_can_download_a_receipt(client, paid):
    url = reverse("tickets:receipt", args=[paid.reference])
    assert client.get(url).status_code == 302  # log in first

    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
    assert client.get(reverse("tickets:receipt", args=["FD-NOSUCH00"])).status_code == 404

    client.force_login(paid.user)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert f"fairdraw-receipt-{paid.reference}.json" in response["Content-Disposition"]
    assert json.loads(response.content) == paid.receipt.document
    assert verifies(json.loads(response.content), receipt_keys_published())

    client.force_login(UserFactory(is_staff=True))
    assert client.get(url).status_code == 200


def test_your_tickets_links_each_receipt_and_explains_it(client, paid):
    postal_entry_add(user=paid.user, competition=paid.lines.get().competition, quantity=1)
    postal = Receipt.objects.get(kind=Receipt.Kind.POSTAL)
    client.force_login(paid.user)

    html = client.get(reverse("accounts:dashboard")).content.decode()

    assert "Signed receipts: what they are for" in html
    assert reverse("tickets:receipt", args=[paid.reference]) in html
    assert reverse("tickets:receipt", args=[postal.reference]) in html


def test_api_gives_the_customers_own_receipts(client, paid):
    competition = paid.lines.get().competition
    other = UserFactory()
    order_record_paid(
        user=other, competition=competition, answer=correct_answer(competition), quantity=1
    )
    postal_entry_add(user=other, competition=competition)
    client.force_login(paid.user)

    body = client.get(f"/api/tickets/user?competitionId={competition.pk}").json()

    assert {"competitionId", "tickets"} <= body.keys()  # the existing keys stay
    assert body["receipts"] == [paid.receipt.document]
    client.force_login(other)
    body = client.get(f"/api/tickets/user?competitionId={competition.pk}").json()
    assert sorted(r["receipt"]["kind"] for r in body["receipts"]) == ["order", "postal"]
    assert paid.receipt.document not in body["receipts"]


def test_pure_python_ed25519_agrees_with_cryptography():
    """The published script's own RFC 8032 verification, against `cryptography`."""
    path = Path(draws.__file__).parent / "static/draws/verify_draw.py"
    spec = importlib.util.spec_from_file_location("verify_draw_script", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    for n in range(6):
        key = receipts.new_key(f"k{n}")
        public = base64.b64decode(key.public_key)
        message = f"message {n} ✓".encode() * n
        signature = key.private.sign(message)
        assert script.ed25519_verify_pure(public, signature, message)
        assert not script.ed25519_verify_pure(public, signature, message + b"!")
        bad = bytes([signature[0] ^ 1]) + signature[1:]
        assert not script.ed25519_verify_pure(public, bad, message)
        bad_s = signature[:40] + bytes([signature[40] ^ 4]) + signature[41:]
        assert not script.ed25519_verify_pure(public, bad_s, message)
        assert receipts.ed25519_verify(public, signature, message)
    # RFC 8032 §7.1, test 1 (empty message).
    public = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
    signature = bytes.fromhex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    )
    assert script.ed25519_verify_pure(public, signature, b"")
    assert not script.ed25519_verify_pure(public, signature, b"x")


def test_badly_written_keys_are_refused():
    for value in (
        "nocolon",
        "bad id:AAAA",
        "k:not-base64!",
        "k:" + base64.b64encode(b"x").decode(),
    ):
        with pytest.raises(receipts.ReceiptKeyError):
            receipts.parse_keys(value)
    line = key_line("twice")
    with pytest.raises(receipts.ReceiptKeyError):
        receipts.parse_keys(f"{line},{line}")


def test_receipt_key_command_prints_a_usable_line(capsys):
    call_command("receipt_key", "fairdraw-test")
    line = capsys.readouterr().out.strip()
    assert line.startswith("FAIRDRAW_RECEIPT_KEYS=fairdraw-test:")
    (key,) = receipts.parse_keys(line.partition("=")[2])
    assert not key.is_development


def test_receipts_are_kept_when_their_order_is_refunded(paid):
    Ticket.objects.filter(order=paid).update(
        status=Ticket.Status.REFUNDED, refunded_at=timezone.now()
    )
    Order.objects.filter(pk=paid.pk).update(status=Order.Status.REFUNDED)
    assert receipt_issue(order_id=paid.pk) == paid.receipt


def test_the_minute_sweep_signs_recent_orders_left_without_a_receipt():
    from tickets.tasks import sweep_receipts

    competition = active_competition(max_tickets=100)
    order = order_record_paid(
        user=UserFactory(), competition=competition, answer=correct_answer(competition), quantity=1
    )
    Receipt.objects.all().delete()  # its process could not sign then (see below)
    assert sweep_receipts() == 1
    assert sweep_receipts() == 0
    assert Receipt.objects.get().order == order


def test_a_payment_writes_its_receipt_in_its_own_transaction(django_capture_on_commit_callbacks):
    """The usual payment signs the receipt from what it holds and writes it with the order's
    claim: it is there when the payment commits, with nothing left for afterwards."""
    order = reserve(UserFactory(), active_competition(max_tickets=100), quantity=3)
    with django_capture_on_commit_callbacks(execute=False) as pending:
        result = order_fulfil(order_id=order.pk, payment_intent_id="pi_1")

    assert result.outcome == "paid" and result.receipt
    receipt = Receipt.objects.get(order=order)
    (entry,) = receipt.payload["entries"]
    assert entry["numbers"] == sorted(order.tickets.values_list("number", flat=True))
    assert receipt_issue(order_id=order.pk) == receipt
    assert not [c for c in pending if "receipt" in getattr(c, "__qualname__", "")]


def test_a_process_signing_with_a_retired_key_leaves_the_receipt_for_later(
    settings, django_capture_on_commit_callbacks, caplog
):
    """Another process published a new key: this one's is retired, so its payment writes no
    receipt (the insert checks the key) and the after-commit step, which refuses the retired
    key, leaves the order to the sweep of a process with the current key."""
    from tickets.services.receipts import receipt_key_published

    first = reserve(UserFactory(), active_competition(max_tickets=100), quantity=1)
    receipt_key_published()  # this process has read its key as published
    ReceiptKey.objects.update(retired_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        result = order_fulfil(order_id=first.pk)

    assert result.outcome == "paid" and not result.receipt
    assert not Receipt.objects.filter(order=first).exists()
    assert "not issued; the sweep will retry" in caplog.text
