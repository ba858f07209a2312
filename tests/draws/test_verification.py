"""`verify_draw` and `manage.py verify_draw`: every published step recomputed, every tampering
caught. Changes are made behind the services' backs, as a dishonest operator would."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from draws.models import Draw
from draws.services import draw_freeze_ledger, draw_perform, draw_perform_manual
from draws.verification import all_ok, verify_draw
from tests.factories import TicketFactory, UserFactory, active_competition
from tickets.models import Ticket

from .conftest import after_end, buy, free_number

pytestmark = pytest.mark.django_db


@pytest.fixture
def big_competition():
    """200 valid entries and three prizes: a tampered input changes the winners for sure."""
    competition = active_competition(prizes=3, max_tickets=300, max_tickets_per_user=50)
    for _ in range(4):
        buy(competition, quantity=50)
    buy(competition, quantity=5, correct=False)
    return competition


@pytest.fixture
def drawn(big_competition):
    return draw_perform(
        competition=big_competition,
        mode=Draw.Mode.ADMIN,
        now=after_end(big_competition),
    )


def failed_names(draw):
    draw = Draw.objects.select_related("competition").get(pk=draw.pk)
    return [check.name for check in verify_draw(draw) if not check.ok]


def test_a_fair_draw_passes_every_check(drawn):
    checks = verify_draw(drawn)
    assert all_ok(checks), [c for c in checks if not c.ok]
    names = " ".join(c.name for c in checks)
    assert "Revealed seed matches the commitment" in names
    assert "1st prize: winning index" in names and "3rd prize: the winning ticket" in names


@pytest.mark.parametrize("change", ["refund", "insert", "renumber"])
def test_changed_ledger_is_caught(drawn, change):
    ticket = Ticket.objects.filter(competition=drawn.competition, status="active").first()
    if change == "refund":
        Ticket.objects.filter(pk=ticket.pk).update(status="refunded", refunded_at=timezone.now())
    elif change == "insert":
        TicketFactory(competition=drawn.competition, number=free_number(drawn.competition))
    else:
        Ticket.objects.filter(pk=ticket.pk).update(number=free_number(drawn.competition))
    assert "Entry ledger recomputed from the tickets matches its published hash" in failed_names(
        drawn
    )


def test_changed_seed_is_caught(drawn):
    Draw.objects.filter(pk=drawn.pk).update(seed="00" * 32)
    failed = failed_names(drawn)
    assert "Revealed seed matches the commitment: SHA-256(seed)" in failed
    assert any("winning index" in name for name in failed)


def test_changed_entropy_is_caught(drawn):
    Draw.objects.filter(pk=drawn.pk).update(entropy="drand 4815162343")
    failed = failed_names(drawn)
    assert any("winning index" in name for name in failed)
    assert "Entry ledger recomputed from the tickets matches its published hash" not in failed


def test_swapped_winning_ticket_is_caught(drawn):
    winner = drawn.winners.order_by("prize__position").first()
    other = Ticket.objects.filter(competition=drawn.competition, status="active").exclude(
        pk__in=drawn.winners.values("ticket")
    )[0]
    type(winner).objects.filter(pk=winner.pk).update(ticket=other)
    failed = failed_names(drawn)
    assert "1st prize: the winning ticket is at that index in the ledger" in failed
    assert "Headline result is the 1st prize winner" in failed


def test_manual_draw_is_reported_as_manual_and_verifies(big_competition):
    number = Ticket.objects.filter(competition=big_competition, status="active").last().number
    draw = draw_perform_manual(
        competition=big_competition,
        ticket_number=number,
        reason="Witnessed live draw",
        by=UserFactory(is_staff=True),
        now=after_end(big_competition),
    )
    checks = verify_draw(draw)
    assert all_ok(checks), [c for c in checks if not c.ok]
    manual = [c for c in checks if c.name.startswith("Manual winner entry")]
    assert len(manual) == 1 and f"#{number}" in manual[0].actual
    # The 1st prize is never claimed to come from the random recipe.
    assert not any(c.name.startswith("1st prize: winning index") for c in checks)


def test_manual_winner_refunded_afterwards_fails_the_check(big_competition):
    number = Ticket.objects.filter(competition=big_competition, status="active").last().number
    draw = draw_perform_manual(
        competition=big_competition,
        ticket_number=number,
        reason="Witnessed live draw",
        by=UserFactory(is_staff=True),
        now=after_end(big_competition),
    )
    Ticket.objects.filter(competition=big_competition, number=number).update(
        status="refunded", refunded_at=timezone.now()
    )
    failed = failed_names(draw)
    assert any(name.startswith("Manual winner entry") for name in failed)


def test_pending_draw_checks_the_frozen_ledger_only(big_competition):
    draw = draw_freeze_ledger(competition=big_competition, now=after_end(big_competition))
    checks = verify_draw(draw)
    assert all_ok(checks)
    assert not any("seed" in c.name.lower() and "revealed" in c.name.lower() for c in checks)
    TicketFactory(competition=big_competition, number=free_number(big_competition))
    assert not all_ok(verify_draw(draw))


def test_no_entries_draw_verifies():
    competition = active_competition()
    draw = draw_perform(competition=competition, mode=Draw.Mode.ADMIN, now=after_end(competition))
    checks = verify_draw(draw)
    assert all_ok(checks)
    assert any(c.name == "No valid entries, so no winner" for c in checks)


# --- the command ------------------------------------------------------------------------


def run_verify(target):
    out = io.StringIO()
    call_command("verify_draw", str(target), stdout=out)
    return out.getvalue()


def test_command_prints_each_check_and_passes(drawn):
    out = run_verify(drawn.competition.slug)
    assert out.count("✓") == len(verify_draw(drawn))
    assert "✗" not in out
    assert "checks passed" in out
    assert run_verify(drawn.competition.pk) == out  # id or slug


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: Draw.objects.filter(pk=d.pk).update(entropy="other"),
        lambda d: Draw.objects.filter(pk=d.pk).update(seed="11" * 32),
        lambda d: TicketFactory(competition=d.competition, number=free_number(d.competition)),
    ],
    ids=["entropy", "seed", "ledger"],
)
def test_command_exits_non_zero_on_any_mismatch(drawn, tamper):
    tamper(drawn)
    out = io.StringIO()
    with pytest.raises(CommandError, match="checks failed") as raised:
        call_command("verify_draw", drawn.competition.slug, stdout=out)
    assert raised.value.returncode == 1
    assert "✗" in out.getvalue() and "expected" in out.getvalue()


def test_command_refuses_unknown_or_undrawn_competitions():
    with pytest.raises(CommandError, match="No competition"):
        call_command("verify_draw", "no-such-thing")
    with pytest.raises(CommandError, match="no draw yet"):
        call_command("verify_draw", str(active_competition().pk))


@pytest.mark.parametrize(
    "tamper, words",
    [
        ({"beacon_signature": "00" * 64}, "the round's signature verifies"),
        ({"beacon_round": 7}, "Beacon round matches the competition's announced round"),
        ({"entropy": "ab" * 32}, "randomness used is SHA-256(signature)"),
    ],
    ids=["signature", "round", "randomness"],
)
def test_changed_beacon_is_caught(drawn, tamper, words):
    Draw.objects.filter(pk=drawn.pk).update(**tamper)
    assert any(words in name for name in failed_names(drawn)), failed_names(drawn)


def test_changed_winner_is_caught(drawn):
    from winners.models import Winner

    winner = Winner.objects.filter(draw=drawn).order_by("prize__position").first()
    Winner.objects.filter(pk=winner.pk).update(ledger_index=(winner.ledger_index + 1) % 200)
    assert any("winning index" in name for name in failed_names(drawn))
