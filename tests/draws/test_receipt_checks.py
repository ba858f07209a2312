"""A customer's signed receipt checked against the frozen entry ledger after close, by
`manage.py verify_draw --receipt` and by the published stdlib-only script."""

import json
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from draws.models import Draw
from draws.services import draw_freeze_ledger, draw_perform
from tests.factories import UserFactory, active_competition, correct_answer
from tickets import receipts
from tickets.models import Receipt, Ticket
from tickets.services import order_record_paid, postal_entry_add

from .conftest import after_end, buy

pytestmark = pytest.mark.django_db


@pytest.fixture
def sale(django_capture_on_commit_callbacks):
    """A competition with a few buyers, one customer's order and postal entry among them,
    each with its receipt."""
    competition = active_competition(prizes=1)
    for _ in range(3):
        buy(competition, quantity=2)
    customer = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        order = order_record_paid(
            user=customer,
            competition=competition,
            answer=correct_answer(competition),
            quantity=3,
        )
    postal_entry_add(user=customer, competition=competition, quantity=1)
    competition.refresh_from_db()
    return competition, Receipt.objects.get(order=order), Receipt.objects.get(kind="postal")


def command(competition, path):
    out = []

    class Out:
        def write(self, text):
            out.append(text)

        def flush(self):
            pass

    try:
        call_command("verify_draw", competition.slug, "--receipt", str(path), stdout=Out())
    except CommandError as error:
        return False, "".join(out) + str(error)
    return True, "".join(out)


def save(tmp_path, name, document) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_receipts_verify_against_the_frozen_ledger(sale, tmp_path):
    competition, order_receipt, postal_receipt = sale
    draw_freeze_ledger(competition=competition, now=after_end(competition))

    for receipt in (order_receipt, postal_receipt):
        ok, out = command(competition, save(tmp_path, "r.json", receipt.document))
        assert ok, out
        assert "in the frozen entry ledger" in out and "✗" not in out


def test_a_number_left_out_of_the_ledger_is_proof_of_an_omission(sale, tmp_path):
    competition, order_receipt, _ = sale
    left_out = order_receipt.payload["entries"][0]["numbers"][1]
    # Dropped before the freeze: the ledger is consistent with itself, but not with the receipt.
    Ticket.objects.filter(competition=competition, number=left_out).update(
        status=Ticket.Status.INVALID
    )
    draw_freeze_ledger(competition=competition, now=after_end(competition))

    ok, out = command(competition, save(tmp_path, "r.json", order_receipt.document))

    assert not ok
    assert "proof of an omission" in out and f"#{left_out}" in out


def test_a_forged_receipt_fails(sale, tmp_path):
    competition, order_receipt, _ = sale
    draw_freeze_ledger(competition=competition, now=after_end(competition))
    document = json.loads(json.dumps(order_receipt.document))
    document["receipt"]["entries"][0]["numbers"].append(
        next(
            t.number
            for t in Ticket.objects.filter(competition=competition).exclude(user=order_receipt.user)
        )
    )

    ok, out = command(competition, save(tmp_path, "r.json", document))

    assert not ok and "forged or altered" in out


# --- the published script ---------------------------------------------------------------------


def run_script(tmp_path, *args):
    return subprocess.run(
        [sys.executable, str(tmp_path / "verify_draw.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def download(client, competition, tmp_path, *, without_cryptography=False):
    script = client.get(reverse("draws:verify-script", args=[competition.slug]))
    source = b"".join(script.streaming_content)
    if without_cryptography:  # as on a machine with the standard library only
        source = source.replace(b"from cryptography.", b"from no_such_package.")
    (tmp_path / "verify_draw.py").write_bytes(source)
    (tmp_path / "draw.json").write_bytes(
        client.get(reverse("api:draw", args=[competition.pk])).content
    )
    ledger = client.get(reverse("draws:ledger", args=[competition.slug]))
    (tmp_path / "ledger.txt").write_bytes(b"".join(ledger.streaming_content))
    (tmp_path / "keys.json").write_bytes(client.get(reverse("tickets:receipt_keys")).content)


@pytest.mark.parametrize("pure", [False, True], ids=["cryptography", "stdlib-ed25519"])
def test_script_checks_a_receipt_after_close_and_after_the_draw(client, sale, tmp_path, pure):
    competition, order_receipt, postal_receipt = sale
    draw_freeze_ledger(competition=competition, now=after_end(competition))
    client.force_login(order_receipt.user)
    (tmp_path / "receipt.json").write_bytes(
        client.get(reverse("tickets:receipt", args=[order_receipt.reference])).content
    )
    save(tmp_path, "postal.json", postal_receipt.document)
    download(client, competition, tmp_path, without_cryptography=pure)

    for receipt in ("receipt.json", "postal.json"):
        args = ["draw.json", "ledger.txt", "--receipt", receipt, "--keys", "keys.json"]
        result = run_script(tmp_path, *args)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "✗" not in result.stdout and "Receipt checks passed." in result.stdout
    # Without draw.json: the receipt names its one competition.
    result = run_script(tmp_path, "ledger.txt", "--receipt", "receipt.json", "--keys", "keys.json")
    assert result.returncode == 0, result.stdout + result.stderr

    # A changed number breaks the signature; a forger's own key is not published.
    document = json.loads((tmp_path / "receipt.json").read_text())
    document["receipt"]["entries"][0]["numbers"][0] += 1000
    save(tmp_path, "tampered.json", document)
    result = run_script(
        tmp_path, "draw.json", "ledger.txt", "--receipt", "tampered.json", "--keys", "keys.json"
    )
    assert result.returncode == 1 and "forged or altered" in result.stdout
    forged = receipts.new_key(order_receipt.key_id).sign(order_receipt.payload)
    save(tmp_path, "forged.json", forged)
    result = run_script(
        tmp_path, "draw.json", "ledger.txt", "--receipt", "forged.json", "--keys", "keys.json"
    )
    assert result.returncode == 1 and "✗ Ed25519 signature" in result.stdout

    # After the draw the same receipt still checks out.
    draw_perform(
        competition=competition, mode=Draw.Mode.ADMIN, now=after_end(competition, minutes=10)
    )
    download(client, competition, tmp_path, without_cryptography=pure)
    result = run_script(
        tmp_path, "draw.json", "ledger.txt", "--receipt", "receipt.json", "--keys", "keys.json"
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_script_reports_an_omission(client, sale, tmp_path):
    competition, order_receipt, _ = sale
    left_out = order_receipt.payload["entries"][0]["numbers"][0]
    Ticket.objects.filter(competition=competition, number=left_out).delete()
    draw_freeze_ledger(competition=competition, now=after_end(competition))
    save(tmp_path, "receipt.json", order_receipt.document)
    download(client, competition, tmp_path)

    result = run_script(
        tmp_path, "draw.json", "ledger.txt", "--receipt", "receipt.json", "--keys", "keys.json"
    )

    assert result.returncode == 1
    assert "proof of an omission" in result.stdout and f"#{left_out}" in result.stdout
    assert "Receipt checks FAILED." in result.stdout


@pytest.mark.django_db(transaction=True)
def test_script_fetches_the_keys_from_the_site(live_server, sale, tmp_path, client):
    competition, order_receipt, _ = sale
    draw_freeze_ledger(competition=competition, now=after_end(competition))
    save(tmp_path, "receipt.json", order_receipt.document)
    download(client, competition, tmp_path)

    result = run_script(
        tmp_path, "draw.json", "ledger.txt", "--receipt", "receipt.json", "--site", live_server.url
    )

    assert result.returncode == 0, result.stdout + result.stderr
