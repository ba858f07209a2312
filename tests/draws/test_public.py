"""The public draw page, the draws API, the ledger download and the stdlib-only script; and
the secret seed, which appears nowhere before the draw."""

import hashlib
import json
import subprocess
import sys

import pytest
from django.urls import reverse

from competitions.models import Competition
from draws import fairness
from draws.models import Draw
from draws.services import draw_freeze_ledger, draw_perform, draw_perform_manual
from tests.factories import UserFactory, active_competition, draft_ready_to_activate
from tickets.models import Ticket

from .conftest import after_end, buy

pytestmark = pytest.mark.django_db


def page_url(competition):
    return reverse("draws:detail", args=[competition.slug])


def api_url(competition):
    return reverse("api:draw", args=[competition.pk])


def ledger_bytes(client, competition):
    response = client.get(reverse("draws:ledger", args=[competition.slug]))
    assert response.status_code == 200
    return b"".join(response.streaming_content)


# --- the seed stays secret until the draw ---------------------------------------------------


def test_seed_appears_nowhere_before_the_draw(client, admin_client, closed_competition):
    seed = Competition.objects.get(pk=closed_competition.pk).draw_seed
    assert seed
    draw_freeze_ledger(competition=closed_competition, now=after_end(closed_competition))
    pages = {
        "competition page": client.get(closed_competition.get_absolute_url()),
        "draw page": client.get(page_url(closed_competition)),
        "draw API": client.get(api_url(closed_competition)),
        "competitions API": client.get(f"/api/competitions/{closed_competition.pk}"),
        "competitions list API": client.get("/api/competitions?status=ended"),
        "admin competitions": admin_client.get(
            reverse("admin:competitions_competition_changelist")
        ),
        "admin competition": admin_client.get(
            reverse("admin:competitions_competition_change", args=[closed_competition.pk])
        ),
        "admin draws": admin_client.get(reverse("admin:draws_draw_changelist")),
        "admin draw": admin_client.get(
            reverse("admin:draws_draw_change", args=[closed_competition.draws.get().pk])
        ),
        "admin draw log": admin_client.get(reverse("admin:draws_drawlogentry_changelist")),
        "admin draw confirmation": admin_client.get(
            reverse("admin:competitions_competition_draw", args=[closed_competition.pk])
        ),
    }
    for name, response in pages.items():
        assert response.status_code in (200, 404), name
        assert seed not in response.content.decode(), name
    assert json.loads(pages["draw API"].content)["seed"] is None


def test_seed_is_revealed_after_the_draw(client, closed_competition):
    draw = draw_perform(
        competition=closed_competition, mode=Draw.Mode.ADMIN, now=after_end(closed_competition)
    )
    assert draw.seed in client.get(page_url(closed_competition)).content.decode()
    assert json.loads(client.get(api_url(closed_competition)).content)["seed"] == draw.seed


# --- the page ---------------------------------------------------------------------------------


def test_page_before_the_close_explains_what_will_happen(client):
    competition = active_competition()
    html = client.get(page_url(competition)).content.decode()
    assert competition.seed_commitment in html
    assert "Revealed after the draw" in html
    assert "Published when entries close" in html
    assert "How the draw works" in html


def test_page_after_the_freeze_shows_the_ledger_and_its_check(client, closed_competition):
    draw = draw_freeze_ledger(competition=closed_competition, now=after_end(closed_competition))
    html = client.get(page_url(closed_competition)).content.decode()
    assert draw.ledger_hash in html
    assert "All 3 checks pass" in html
    assert reverse("draws:ledger", args=[closed_competition.slug]) in html


def test_page_after_the_draw_shows_everything_and_live_checks(client, closed_competition):
    draw = draw_perform(
        competition=closed_competition,
        mode=Draw.Mode.AUTOMATIC,
        now=after_end(closed_competition),
    )
    response = client.get(page_url(closed_competition))
    html = response.content.decode()
    for value in (draw.seed, draw.seed_commitment, draw.ledger_hash, draw.entropy):
        assert value in html
    for winner in draw.winners.all():
        assert f"#{winner.ticket.number}" in html
        assert winner.display_name not in html  # not published yet
    checks = response.context["checks"]
    assert checks and all(c.ok for c in checks)
    assert f"All {len(checks)} checks pass" in html
    assert html.count("✓") >= len(checks)
    assert "python3 verify_draw.py draw.json ledger.txt" in html
    assert "Winners drawn" in html  # the public record


def test_page_says_manual_when_the_winner_was_entered_by_hand(client, closed_competition):
    number = Ticket.objects.filter(competition=closed_competition, status="active")[0].number
    draw_perform_manual(
        competition=closed_competition,
        ticket_number=number,
        reason="Witnessed live draw",
        by=UserFactory(is_staff=True),
        now=after_end(closed_competition),
    )
    html = client.get(page_url(closed_competition)).content.decode()
    assert "Manual winner entry" in html
    assert "not drawn at random" in html
    assert "Witnessed live draw" in html
    body = json.loads(client.get(api_url(closed_competition)).content)
    assert body["mode"] == "manual" and body["manualReason"] == "Witnessed live draw"
    assert body["manual"] is True


def test_page_says_closed_without_a_winner(client):
    competition = active_competition()
    draw_perform(competition=competition, mode=Draw.Mode.ADMIN, now=after_end(competition))
    html = client.get(page_url(competition)).content.decode()
    assert "Closed without a winner" in html
    body = json.loads(client.get(api_url(competition)).content)
    assert body["status"] == "no_entries" and body["winners"] == []


def test_drafts_and_unknown_competitions_are_404(client):
    draft = draft_ready_to_activate()
    assert client.get(page_url(draft)).status_code == 404
    assert client.get(api_url(draft)).status_code == 404
    assert json.loads(client.get(api_url(draft)).content) == {"error": "Not found."}
    assert client.get("/api/draws/999999").status_code == 404


# --- the API ------------------------------------------------------------------------------


def test_api_before_and_after_the_draw(client, closed_competition):
    before = client.get(api_url(closed_competition))
    assert before["Cache-Control"] == "public, max-age=30"
    body = json.loads(before.content)
    assert body["status"] == "pending"
    assert body["seedCommitment"] == closed_competition.seed_commitment
    assert body["seed"] is None and body["ledgerHash"] is None and body["winners"] == []

    draw = draw_perform(
        competition=closed_competition, mode=Draw.Mode.ADMIN, now=after_end(closed_competition)
    )
    body = json.loads(client.get(f"/api/draws/{closed_competition.pk}/").content)
    assert body["status"] == "completed"
    assert body["mode"] == "admin" and body["manual"] is False
    assert body["seed"] == draw.seed
    assert body["ledgerHash"] == draw.ledger_hash
    assert body["entryCount"] == 12
    assert body["entropy"] == draw.entropy == body["beacon"]["randomness"]
    assert [w["prizePosition"] for w in body["winners"]] == [1, 2, 3]
    assert body["winningIndex"] == draw.winning_index
    assert body["winningNumber"] == draw.winning_ticket.number
    assert body["winners"][0]["displayName"] is None  # until the winner is published
    assert body["winners"][0]["verificationStatus"] == "pending"
    assert body["winners"][0]["announcement"] is None and body["winners"][0]["announcedAt"] is None
    assert body["ledgerUrl"].endswith(reverse("draws:ledger", args=[closed_competition.slug]))
    assert body["verifyScriptUrl"].endswith("/draw/verify.py")
    assert body["verification"] and all(c["ok"] for c in body["verification"])
    assert body["performedAt"].endswith("Z")


# --- the ledger download and the script -------------------------------------------------


def test_ledger_download_is_exactly_the_hashed_bytes(client, closed_competition):
    draw = draw_perform(
        competition=closed_competition, mode=Draw.Mode.ADMIN, now=after_end(closed_competition)
    )
    response = client.get(reverse("draws:ledger", args=[closed_competition.slug]))
    assert response["Content-Type"].startswith("text/plain")
    assert "attachment" in response["Content-Disposition"]
    content = b"".join(response.streaming_content)
    assert hashlib.sha256(content).hexdigest() == draw.ledger_hash
    numbers = [int(line) for line in content.decode().splitlines()]
    assert len(numbers) == 12 and numbers == sorted(numbers)
    assert b"@" not in content  # numbers only, no personal data


def test_ledger_is_not_published_before_the_close(client):
    competition = active_competition()
    buy(competition, quantity=2)
    assert client.get(reverse("draws:ledger", args=[competition.slug])).status_code == 404


def run_script(tmp_path, *args):
    return subprocess.run(
        [sys.executable, str(tmp_path / "verify_draw.py"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )


def download_all(client, competition, tmp_path):
    script = client.get(reverse("draws:verify-script", args=[competition.slug]))
    (tmp_path / "verify_draw.py").write_bytes(b"".join(script.streaming_content))
    (tmp_path / "draw.json").write_bytes(client.get(api_url(competition)).content)
    (tmp_path / "ledger.txt").write_bytes(ledger_bytes(client, competition))


@pytest.mark.parametrize("manual", [False, True], ids=["random", "manual"])
def test_downloaded_script_verifies_the_downloaded_data(
    client, closed_competition, tmp_path, manual
):
    if manual:
        number = Ticket.objects.filter(competition=closed_competition, status="active")[3].number
        draw_perform_manual(
            competition=closed_competition,
            ticket_number=number,
            reason="Live stream",
            by=UserFactory(is_staff=True),
            now=after_end(closed_competition),
        )
    else:
        draw_perform(
            competition=closed_competition,
            mode=Draw.Mode.ADMIN,
            now=after_end(closed_competition),
        )
    download_all(client, closed_competition, tmp_path)

    result = run_script(tmp_path, "draw.json", "ledger.txt")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✗" not in result.stdout
    assert result.stdout.count("✓") >= 5
    assert "All checks passed." in result.stdout
    if manual:
        assert "entered manually" in result.stdout

    # A ledger with one ticket fewer, or another entropy, fails.
    lines = (tmp_path / "ledger.txt").read_bytes().splitlines(keepends=True)
    (tmp_path / "short.txt").write_bytes(b"".join(lines[1:]))
    assert run_script(tmp_path, "draw.json", "short.txt").returncode == 1
    data = json.loads((tmp_path / "draw.json").read_text())
    data["entropy"] = other_entropy(closed_competition.draws.get())
    (tmp_path / "other.json").write_text(json.dumps(data))
    tampered = run_script(tmp_path, "other.json", "ledger.txt")
    assert tampered.returncode == 1 and "✗" in tampered.stdout


def other_entropy(draw) -> str:
    """An entropy that changes this draw's winners. With 12 entries and a manual first prize,
    about one entropy in a hundred picks the same two others, which no check could notice."""
    winners = list(draw.winners.order_by("prize__position").values_list("ledger_index", flat=True))
    fixed = winners[:1] if draw.is_manual else []
    for n in range(124, 200):
        entropy = f"drand {n}"
        indexes = fairness.winning_indexes(
            seed=draw.seed,
            ledger_hash=draw.ledger_hash,
            entropy=entropy,
            count=draw.entry_count,
            prizes=len(winners),
            fixed=fixed,
        )
        if indexes != winners:
            return entropy
    raise AssertionError("no entropy changes the winners")


def test_script_takes_the_values_by_hand(client, closed_competition, tmp_path):
    draw = draw_perform(
        competition=closed_competition, mode=Draw.Mode.ADMIN, now=after_end(closed_competition)
    )
    download_all(client, closed_competition, tmp_path)
    winners = ",".join(str(w.ticket.number) for w in draw.winners.order_by("prize__position"))
    args = ["ledger.txt", "--seed", draw.seed, "--commitment", draw.seed_commitment]
    args += ["--ledger-hash", draw.ledger_hash, "--entropy", draw.entropy]
    args += ["--prizes", "3", "--winners", winners]
    result = run_script(tmp_path, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    wrong = run_script(tmp_path, *args[:-1], "1,2,3")
    assert wrong.returncode == 1


def test_script_uses_only_the_standard_library():
    from pathlib import Path

    import draws

    source = (Path(draws.__file__).parent / "static/draws/verify_draw.py").read_text()
    imports = {
        line.split()[1].split(".")[0]
        for line in source.splitlines()
        if line.startswith(("import ", "from "))
    }
    assert imports <= {"argparse", "hashlib", "hmac", "json", "sys", "time"}


def test_api_shows_each_winners_verification_and_announcement(client, closed_competition):
    from winners.services import winner_announce, winner_approve, winner_publish

    staff = UserFactory(is_staff=True)
    draw = draw_perform(
        competition=closed_competition, mode=Draw.Mode.ADMIN, now=after_end(closed_competition)
    )
    first = draw.winners.get(prize__position=1)
    winner_approve(winner=first, by=staff)
    winner_announce(winner=first, by=staff)
    winner_publish(winner=first, by=staff)
    first.refresh_from_db()

    body = json.loads(client.get(api_url(closed_competition)).content)
    shown = body["winners"][0]
    assert shown["verificationStatus"] == "approved"
    assert shown["announcement"] == first.announcement
    assert shown["announcedAt"] == first.announced_at.isoformat().replace("+00:00", "Z")
    assert shown["displayName"] == first.display_name
    assert [w["verificationStatus"] for w in body["winners"][1:]] == ["pending", "pending"]


def test_api_before_the_draw_is_not_manual(client):
    body = json.loads(client.get(api_url(active_competition())).content)
    assert body["manual"] is False and body["status"] == "pending"
