"""After close the instant-win list and salt are revealed and anyone can check them: against the
commitment published at activation, and after the draw against the revealed seed."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from competitions.models import InstantWin
from draws.instant_wins import verify_instant_wins
from draws.models import Draw
from draws.services import draw_freeze_ledger, draw_perform
from tests.factories import instant_numbers, instant_win_competition
from winners.models import Winner

from .conftest import after_end, buy
from .test_public import download_all, run_script

pytestmark = pytest.mark.django_db


@pytest.fixture
def drawn():
    """Two instant prizes, one of them already won, then closed and drawn."""
    competition = instant_win_competition(
        instant=(("£10 cash", "10.00", 4), ("Free tickets", "2.00", 3)), max_tickets=200
    )
    won = instant_numbers(competition)[0]
    buy(competition, numbers=[won])
    buy(competition, quantity=5)
    draw_perform(competition=competition, mode=Draw.Mode.ADMIN, now=after_end(competition))
    competition.refresh_from_db()
    return competition


def test_frozen_ledger_reveals_the_list_and_salt(client):
    competition = instant_win_competition(max_tickets=200)
    buy(competition, quantity=3)
    draw = draw_freeze_ledger(competition=competition, now=after_end(competition))
    data = json.loads(client.get(f"/api/draws/{competition.pk}").content)["instantWins"]
    assert data["revealed"] is True
    assert data["numbers"] == instant_numbers(competition)
    assert data["salt"] == competition.instant_wins_salt
    checks = verify_instant_wins(draw)
    assert [c.ok for c in checks] == [True, True]  # commitment, and nobody has won yet
    page = client.get(reverse("draws:detail", args=[competition.slug])).content.decode()
    assert competition.instant_wins_salt in page
    assert all(f"#{n}" in page for n in instant_numbers(competition))


def test_after_the_draw_every_instant_check_passes_and_the_command_says_so(drawn):
    draw = Draw.objects.get(competition=drawn)
    checks = verify_instant_wins(draw)
    assert len(checks) == 4 and all(c.ok for c in checks), checks
    call_command("verify_draw", drawn.slug)  # raises on any failure


def test_an_altered_list_fails_its_checks(drawn):
    draw = Draw.objects.get(competition=drawn)
    free = next(n for n in range(1, 201) if n not in instant_numbers(drawn))
    moved = InstantWin.objects.filter(competition=drawn, won_at__isnull=True).first()
    InstantWin.objects.filter(pk=moved.pk).update(number=free)
    checks = {c.name: c.ok for c in verify_instant_wins(draw)}
    assert not checks["Instant-win list matches its commitment: SHA-256(salt, numbers ascending)"]
    assert not checks["Instant-win numbers recomputed from the revealed seed"]
    with pytest.raises(CommandError):
        call_command("verify_draw", drawn.slug)


def test_a_winner_on_the_wrong_ticket_fails():
    competition = instant_win_competition(max_tickets=200)
    won = instant_numbers(competition)[0]
    buy(competition, numbers=[won])
    other = buy(competition, quantity=1).tickets.get()
    Winner.objects.filter(competition=competition).update(ticket=other)
    draw = draw_freeze_ledger(competition=competition, now=after_end(competition))
    checks = {c.name: c.ok for c in verify_instant_wins(draw)}
    assert not checks["Every instant win went to the ticket holding its number, once"]


def test_the_published_script_checks_the_instant_wins(client, drawn, tmp_path):
    download_all(client, drawn, tmp_path)
    result = run_script(tmp_path, "draw.json", "ledger.txt")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✓ instant-win list matches its commitment" in result.stdout
    assert "✓ instant-win numbers recomputed from the seed" in result.stdout

    data = json.loads((tmp_path / "draw.json").read_text())
    free = next(n for n in range(1, 201) if n not in data["instantWins"]["numbers"])
    data["instantWins"]["numbers"][0] = free
    data["instantWins"]["numbers"].sort()
    data["instantWins"]["prizes"][0]["numbers"][0] = free
    (tmp_path / "altered.json").write_text(json.dumps(data))
    result = run_script(tmp_path, "altered.json", "ledger.txt")
    assert result.returncode == 1
    assert "✗ instant-win list matches its commitment" in result.stdout
