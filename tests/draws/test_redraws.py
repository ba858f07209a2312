"""Fair redraws: a disqualified winner's prize is drawn again from the same frozen ledger with
the next announced beacon round, excluding every earlier winner, for a recorded reason, in
public (docs/architecture.md §4.7)."""

import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from core.models import AuditEntry
from draws.beacon import round_time
from draws.exceptions import BeaconPending
from draws.models import Draw, DrawLogEntry, Redraw
from draws.services import draw_perform, redraw_perform, redraws_due
from draws.verification import all_ok, verify_draw
from tests.factories import UserFactory
from winners.exceptions import WinnerError
from winners.models import Winner
from winners.services import winner_approve, winner_disqualify, winner_publish

from .conftest import after_end

pytestmark = pytest.mark.django_db


@pytest.fixture
def drawn(closed_competition):
    return draw_perform(
        competition=closed_competition,
        mode=Draw.Mode.AUTOMATIC,
        now=after_end(closed_competition),
    )


@pytest.fixture
def staff():
    return UserFactory(is_staff=True)


def first_winner(draw):
    return draw.winners.select_related("ticket", "prize").get(prize__position=1)


def disqualify(winner, staff, now, **kw):
    kw.setdefault("reason", "age_check")
    kw.setdefault("detail", "Date of birth on the ID shows 17 at entry.")
    return winner_disqualify(winner=winner, by=staff, now=now, **kw)


def test_disqualifying_fixes_and_publishes_the_next_round(drawn, staff):
    winner = first_winner(drawn)
    now = after_end(drawn.competition, hours=2)
    disqualify(winner, staff, now)

    winner.refresh_from_db()
    assert winner.verification_status == Winner.Verification.REJECTED
    redraw = Redraw.objects.get()
    assert redraw.status == Redraw.Status.PENDING
    assert round_time(redraw.beacon_round) >= now  # a round nobody had seen
    assert round_time(redraw.beacon_round - 1) < now
    assert redraw.disqualified_ticket == winner.ticket
    assert sorted(redraw.excluded_indexes) == sorted(
        drawn.winners.values_list("ledger_index", flat=True)
    )
    announced = DrawLogEntry.objects.get(action="redraw_announced")
    assert announced.actor == staff and announced.data["round"] == redraw.beacon_round
    audited = set(AuditEntry.objects.filter(actor=staff).values_list("action", flat=True))
    assert {"winner.reject", "draw.redraw_announced"} <= audited


@pytest.mark.parametrize(
    "reason, detail", [("age_check", "   "), ("", "No reply"), ("made_up", "No reply")]
)
def test_a_redraw_needs_a_recorded_reason(drawn, staff, reason, detail):
    winner = first_winner(drawn)
    with pytest.raises(WinnerError, match="reason"):
        disqualify(
            winner, staff, after_end(drawn.competition, hours=2), reason=reason, detail=detail
        )
    winner.refresh_from_db()
    assert winner.verification_status == Winner.Verification.PENDING
    assert not Redraw.objects.exists()


def test_the_database_refuses_a_redraw_without_a_reason(drawn, staff):
    disqualify(first_winner(drawn), staff, after_end(drawn.competition, hours=2))
    with pytest.raises(IntegrityError), transaction.atomic():
        Redraw.objects.update(reason_detail="")


def test_redraw_waits_for_its_round_then_excludes_every_earlier_winner(drawn, staff):
    competition = drawn.competition
    earlier = set(drawn.winners.values_list("ticket_id", flat=True))
    now = after_end(competition, hours=2)
    disqualify(first_winner(drawn), staff, now)
    redraw = Redraw.objects.get()

    with pytest.raises(BeaconPending):
        redraw_perform(redraw=redraw, now=round_time(redraw.beacon_round) - timedelta(seconds=1))
    assert Redraw.objects.get().status == Redraw.Status.PENDING

    done = redraw_perform(redraw=redraw, now=round_time(redraw.beacon_round))
    assert done.status == Redraw.Status.COMPLETED
    assert done.new_ticket_id not in earlier
    assert done.new_index not in done.excluded_indexes
    new_winner = Winner.objects.get(ticket=done.new_ticket)
    assert new_winner.prize == redraw.prize and new_winner.ledger_index == done.new_index
    assert DrawLogEntry.objects.filter(action="redrawn").exists()
    checks = verify_draw(Draw.objects.get(pk=drawn.pk))
    assert all_ok(checks), [c for c in checks if not c.ok]
    assert any("Redraw 1" in c.name and "signature verifies" in c.name for c in checks)

    # The new winner is disqualified too: the next redraw also skips the first redraw's winner.
    later = round_time(redraw.beacon_round) + timedelta(hours=1)
    disqualify(new_winner, staff, later, reason="no_reply", detail="No reply within 14 days.")
    second = Redraw.objects.get(sequence=2)
    assert done.new_index in second.excluded_indexes
    second = redraw_perform(redraw=second, now=round_time(second.beacon_round))
    assert second.new_index not in {*done.excluded_indexes, done.new_index}
    assert all_ok(verify_draw(Draw.objects.get(pk=drawn.pk)))


def test_beat_performs_due_redraws(drawn, staff):
    from django.utils import timezone

    # Announced a minute ago, so its round is already out.
    disqualify(first_winner(drawn), staff, timezone.now() - timedelta(minutes=1))
    assert redraws_due() == [Redraw.objects.get().pk]
    out = io.StringIO()
    call_command("run_due_draws", stdout=out)
    assert "redraw 1 redrawn" in out.getvalue()
    assert Redraw.objects.get().status == Redraw.Status.COMPLETED
    assert redraws_due() == []


@pytest.fixture
def redrawn(drawn, staff):
    winner = first_winner(drawn)
    winner_publish(winner=winner_approve(winner=winner))
    disqualify(Winner.objects.get(pk=winner.pk), staff, after_end(drawn.competition, hours=2))
    redraw = Redraw.objects.get()
    return redraw_perform(redraw=redraw, now=round_time(redraw.beacon_round))


def failed(draw):
    return [c.name for c in verify_draw(Draw.objects.get(pk=draw.pk)) if not c.ok]


@pytest.mark.parametrize(
    "tamper, words",
    [
        ({"new_index": 0}, "new winning index"),
        ({"randomness": "ab" * 32}, "randomness used is SHA-256"),
        ({"beacon_round": 5}, "announced in advance"),
        ({"beacon_signature": "00" * 64}, "signature verifies"),
        ({"excluded_indexes": []}, "every earlier winner is excluded"),
        ({"reason_detail": "Something else"}, "a reason was recorded"),
    ],
    ids=["index", "randomness", "round", "signature", "exclusions", "reason"],
)
def test_verification_fails_when_a_redraw_is_altered(redrawn, tamper, words):
    if tamper.get("new_index") == 0 and redrawn.new_index == 0:
        tamper = {"new_index": 1}
    Redraw.objects.filter(pk=redrawn.pk).update(**tamper)
    assert any(words in name for name in failed(redrawn.draw)), failed(redrawn.draw)


def test_public_page_and_api_show_the_history(client, redrawn):
    competition = redrawn.competition
    html = client.get(f"/competitions/{competition.slug}/draw/").content.decode()
    assert "Redraw 1" in html and "Failed the age check" in html
    assert f"#{redrawn.disqualified_ticket.number}" in html
    assert redrawn.disqualified_name and redrawn.disqualified_name in html  # was published
    assert f"#{redrawn.new_ticket.number}" in html and redrawn.randomness in html
    assert "disqualified" in html and "demo beacon" in html
    body = json.loads(client.get(f"/api/draws/{competition.pk}/").content)
    (entry,) = body["redraws"]
    assert entry["reason"] == "age_check" and entry["ticketNumber"] == redrawn.new_ticket.number
    assert entry["beacon"]["round"] == redrawn.beacon_round
    assert entry["beacon"]["signature"] == redrawn.beacon_signature
    assert all(check["ok"] for check in body["verification"])


def test_staff_disqualify_from_the_winners_admin(admin_client, admin_user, drawn):
    winner = first_winner(drawn)
    url = "/admin/winners/winner/"
    selection = {"action": "disqualify", "_selected_action": [winner.pk]}
    page = admin_client.post(url, selection).content.decode()
    assert "Failed the identity check" in page and 'name="reason"' in page
    admin_client.post(
        url,
        {**selection, "confirmed": "yes", "reason_code": "identity_check", "reason": "ID refused"},
    )
    redraw = Redraw.objects.get()
    assert redraw.reason == "identity_check" and redraw.announced_by == admin_user


def test_published_script_checks_the_beacon_and_the_redraws(client, redrawn, tmp_path):
    from .test_public import download_all, run_script

    download_all(client, redrawn.competition, tmp_path)
    result = run_script(tmp_path, "draw.json", "ledger.txt")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "✓ draw: the round's signature verifies" in out
    assert "✓ redraw 1 (prize 1): new winning index recomputed" in out
    assert "demo beacon" in out

    data = json.loads((tmp_path / "draw.json").read_text())
    data["redraws"][0]["ticketNumber"] += 1
    (tmp_path / "other.json").write_text(json.dumps(data))
    assert run_script(tmp_path, "other.json", "ledger.txt").returncode == 1
    data = json.loads((tmp_path / "draw.json").read_text())
    data["beacon"]["signature"] = "00" * 64
    (tmp_path / "forged.json").write_text(json.dumps(data))
    forged = run_script(tmp_path, "forged.json", "ledger.txt")
    assert forged.returncode == 1 and "✗ draw: randomness = SHA-256(signature)" in forged.stdout
