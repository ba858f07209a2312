"""docs/architecture.md §5: seed_demo draws through the real services, so every drawn demo
verifies, and its orders and postal entries have signed receipts that check out."""

import io
import json

import pytest
from django.core.management import call_command

from competitions.lifecycle import Status
from competitions.models import Competition
from draws.instant_wins import verify_instant_wins
from draws.verification import all_ok, verify_draw
from tickets.models import Order, Receipt, Ticket


@pytest.mark.django_db
def test_verify_draw_passes_on_every_drawn_demo_competition(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    with django_capture_on_commit_callbacks(execute=True):  # receipts follow each payment
        call_command("seed_demo", verbosity=0)
    drawn = Competition.objects.filter(status=Status.DRAWN)
    assert drawn.exists()
    for competition in drawn:
        draw = competition.draws.get()
        assert all_ok(verify_draw(draw)), competition.slug
        out = io.StringIO()
        call_command("verify_draw", competition.slug, stdout=out)
        assert "✗" not in out.getvalue()

    paid = Order.objects.filter(status__in=Order.PAID_STATES, tickets__isnull=False).distinct()
    assert paid.exists() and not paid.filter(receipt__isnull=True).exists()
    postal = Ticket.objects.filter(source=Ticket.Source.POSTAL).count()
    assert Receipt.objects.filter(kind=Receipt.Kind.POSTAL).count() == postal > 0
    competition = drawn.first()
    receipt = Receipt.objects.filter(order__lines__competition=competition).first()
    (tmp_path / "receipt.json").write_text(json.dumps(receipt.document))
    out = io.StringIO()
    call_command(
        "verify_draw", competition.slug, "--receipt", str(tmp_path / "receipt.json"), stdout=out
    )
    assert "in the frozen entry ledger" in out.getvalue() and "✗" not in out.getvalue()
    # A drawn demo with instant wins reveals and verifies them too.
    (instant,) = [c for c in drawn if c.instant_wins_commitment]
    checks = verify_instant_wins(instant.draws.get())
    assert len(checks) == 4 and all_ok(checks)


@pytest.mark.django_db
def test_a_live_demo_has_instant_wins_some_won(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", verbosity=0)
    live = [
        c for c in Competition.objects.filter(status=Status.ACTIVE) if c.instant_wins_commitment
    ]
    assert live
    for competition in live:
        won = competition.winners.filter(instant_win__isnull=False)
        assert 0 < won.count() < competition.instant_wins.count()
        assert won.filter(is_published=True).exists()
