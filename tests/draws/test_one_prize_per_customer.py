"""One prize per customer: with several draw prizes, a customer who already won is skipped,
and anyone can check it from the published owners list without learning who anyone is."""

import hashlib
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.urls import reverse

from competitions.exceptions import CompetitionLocked
from competitions.services import competition_update
from draws import fairness
from draws.beacon import round_time
from draws.models import Draw, DrawLogEntry, Redraw
from draws.selectors import ledger_owners
from draws.services import draw_freeze_ledger, draw_perform, draw_perform_manual, redraw_perform
from draws.verification import all_ok, verify_draw
from tests.factories import UserFactory, active_competition
from tickets.models import Ticket
from tickets.services import postal_entry_add
from winners.services import winner_disqualify

from .conftest import after_end, buy
from .test_public import download_all, run_script

pytestmark = pytest.mark.django_db


@pytest.fixture
def competition():
    """Three prizes; one customer holds 16 of the 20 entries, three others one each (one of
    them by post), so without the rule the big buyer would almost surely win twice."""
    competition = active_competition(
        prizes=3, one_prize_per_customer=True, max_tickets=100, max_tickets_per_user=20
    )
    whale = UserFactory()
    buy(competition, quantity=16, user=whale)
    buy(competition, quantity=1)
    buy(competition, quantity=1)
    postal_entry_add(user=UserFactory(), competition=competition, quantity=1)
    buy(competition, quantity=1, user=whale)  # a second order: still one owner
    competition.refresh_from_db()
    return competition


def test_owner_rule_skips_an_owner_who_already_won():
    owners = [1] * 9 + [2]  # index 9 is the only entry of owner 2
    indexes = fairness.winning_indexes(
        seed="11" * 32,
        ledger_hash="ab" * 32,
        entropy="",
        count=10,
        prizes=2,
        owner_of=owners.__getitem__,
    )
    assert len(indexes) == 2 and {owners[i] for i in indexes} == {1, 2}
    # Without the rule the same inputs may give one owner both prizes.
    plain = fairness.winning_indexes(
        seed="11" * 32, ledger_hash="ab" * 32, entropy="", count=10, prizes=2
    )
    assert plain[0] == indexes[0]  # the 1st prize is the same draw either way


def test_each_winner_is_a_different_customer_and_it_verifies(competition):
    draw = draw_perform(competition=competition, mode=Draw.Mode.ADMIN, now=after_end(competition))
    users = list(draw.winners.values_list("user_id", flat=True))
    assert len(users) == 3 and len(set(users)) == 3
    assert draw.owners_hash
    checks = verify_draw(draw)
    assert all_ok(checks), [c for c in checks if not c.ok]
    assert any("no owner label wins twice" in c.name for c in checks)


def test_fewer_customers_than_prizes_gives_one_prize_each():
    competition = active_competition(prizes=3, one_prize_per_customer=True)
    buy(competition, quantity=4)
    buy(competition, quantity=2)
    draw = draw_perform(competition=competition, mode=Draw.Mode.ADMIN, now=after_end(competition))
    assert draw.winners.count() == 2
    assert all_ok(verify_draw(draw))


def test_a_manual_first_prize_counts_as_that_customers_prize(competition):
    whale = (
        Ticket.objects.filter(competition=competition)
        .values("user_id")
        .annotate(n=Count("pk"))
        .order_by("-n")[0]["user_id"]
    )
    whale_ticket = Ticket.objects.filter(competition=competition, user_id=whale)[0]
    draw = draw_perform_manual(
        competition=competition,
        ticket_number=whale_ticket.number,
        reason="Drawn live",
        by=UserFactory(is_staff=True),
        now=after_end(competition),
    )
    users = list(draw.winners.order_by("prize__position").values_list("user_id", flat=True))
    assert users[0] == whale and users.count(whale) == 1
    assert all_ok(verify_draw(draw))


def test_changed_owners_fail_verification(competition):
    draw = draw_perform(competition=competition, mode=Draw.Mode.ADMIN, now=after_end(competition))
    # One of the big buyer's losing entries moved to another customer after the draw: the
    # owners list differs (which entries share an owner is what the labels say).
    whale = (
        Ticket.objects.filter(competition=competition)
        .values("user_id")
        .annotate(n=Count("pk"))
        .order_by("-n")[0]["user_id"]
    )
    loser = Ticket.objects.filter(competition=competition, status="active", user_id=whale).exclude(
        pk__in=draw.winners.values("ticket_id")
    )[0]
    Ticket.objects.filter(pk=loser.pk).update(user=UserFactory())
    checks = verify_draw(draw)
    failed = [c.name for c in checks if not c.ok]
    assert any("owners list" in name for name in failed)


def test_the_owners_list_is_committed_at_close_and_published(client, competition):
    draw_freeze_ledger(competition=competition, now=after_end(competition))
    body = json.loads(client.get(reverse("api:draw", args=[competition.pk])).content)
    assert body["onePrizePerCustomer"] is True and body["ownersHash"]
    owners = b"".join(client.get(body["ownersUrl"]).streaming_content)
    # One label per ledger line; labels, never names or e-mail addresses.
    assert owners.count(b"\n") == body["entryCount"] == 20
    assert set(owners.split()) == {b"1", b"2", b"3", b"4"}
    assert hashlib.sha256(owners).hexdigest() == body["ownersHash"]


def test_published_script_verifies_and_fails_on_altered_owners(client, competition, tmp_path):
    draw_perform(competition=competition, mode=Draw.Mode.ADMIN, now=after_end(competition))
    download_all(client, competition, tmp_path)
    owners_url = reverse("draws:owners", args=[competition.slug])
    (tmp_path / "owners.txt").write_bytes(b"".join(client.get(owners_url).streaming_content))

    result = run_script(tmp_path, "draw.json", "ledger.txt", "owners.txt")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no owner wins twice" in result.stdout

    # Relabelled owners (every entry its own owner) no longer hash to the published list.
    count = json.loads((tmp_path / "draw.json").read_text())["entryCount"]
    relabelled = b"".join(b"%d\n" % (i + 1) for i in range(count))
    (tmp_path / "altered.txt").write_bytes(relabelled)
    altered = run_script(tmp_path, "draw.json", "ledger.txt", "altered.txt")
    assert altered.returncode == 1 and "✗ owners list hashes" in altered.stdout
    # And without the owners list the script says what it needs.
    assert run_script(tmp_path, "draw.json", "ledger.txt").returncode != 0


def test_the_option_is_fixed_at_activation(competition):
    competition.one_prize_per_customer = False
    with pytest.raises(CompetitionLocked):
        competition_update(
            competition=competition,
            by=UserFactory(is_staff=True),
            fields=["one_prize_per_customer"],
        )


# ---------------------------------------------------------------- redraws (§4.7, §4.8)


def test_redraw_owner_rule_skips_every_entry_of_an_excluded_owner():
    owners = [1] * 9 + [2]  # index 0 won (owner 1); index 9 is the only other owner's entry
    plain = set()
    for n in range(20):
        common = {"seed": "22" * 32, "ledger_hash": "cd" * 32, "entropy": f"{n:064x}", "count": 10}
        ruled = fairness.redraw_index(**common, prize=1, excluded=[0], owner_of=owners.__getitem__)
        assert ruled == 9
        plain.add(fairness.redraw_index(**common, prize=1, excluded=[0]))
    assert plain - {9}  # without the rule the owner of index 0 wins again
    # Nobody left: every owner has an excluded entry.
    assert (
        fairness.redraw_index(
            seed="22" * 32,
            ledger_hash="cd" * 32,
            entropy="",
            count=10,
            prize=1,
            excluded=[0, 9],
            owner_of=owners.__getitem__,
        )
        is None
    )


def _redraw(winner, staff, *, hours=2):
    """Disqualify `winner` and perform the redraw once its beacon round is out."""
    competition = winner.competition
    winner_disqualify(
        winner=winner,
        by=staff,
        reason="age_check",
        detail="Date of birth on the ID shows 17 at entry.",
        now=after_end(competition, hours=hours),
    )
    redraw = Redraw.objects.get(prize=winner.prize, status=Redraw.Status.PENDING)
    return redraw_perform(redraw=redraw, now=round_time(redraw.beacon_round))


def test_a_disqualified_customer_never_wins_their_prize_back():
    """Two customers, two prizes: each wins one. The big buyer is disqualified: their other
    entries may not win the redraw, and the other customer already holds a prize, so the
    prize stays unawarded (before the rule reached redraws, another of the big buyer's
    entries always won it)."""
    competition = active_competition(
        prizes=2, one_prize_per_customer=True, max_tickets=100, max_tickets_per_user=20
    )
    whale, other = UserFactory(), UserFactory()
    buy(competition, quantity=6, user=whale)
    buy(competition, quantity=1, user=other)
    draw = draw_perform(competition=competition, mode=Draw.Mode.ADMIN, now=after_end(competition))
    assert set(draw.winners.values_list("user_id", flat=True)) == {whale.pk, other.pk}

    redraw = _redraw(draw.winners.get(user=whale), UserFactory(is_staff=True))
    assert redraw.status == Redraw.Status.NO_ENTRIES and redraw.new_ticket is None
    assert not draw.winners.filter(user=whale).exclude(verification_status="rejected").exists()
    checks = verify_draw(Draw.objects.get(pk=draw.pk))
    assert all_ok(checks), [c for c in checks if not c.ok]


@pytest.fixture
def redrawn_once(competition):
    """The big buyer's entry wins the 1st prize (a manual entry, so the test does not depend on
    luck), the 2nd and 3rd go to two of the three others; the 2nd prize's winner is then
    disqualified. The one customer left who neither won nor was disqualified must win the
    redraw: every other remaining entry belongs to the big buyer, who holds the 1st prize."""
    whale = (
        Ticket.objects.filter(competition=competition)
        .values("user_id")
        .annotate(n=Count("pk"))
        .order_by("-n")[0]["user_id"]
    )
    whale_ticket = Ticket.objects.filter(competition=competition, user_id=whale)[0]
    draw = draw_perform_manual(
        competition=competition,
        ticket_number=whale_ticket.number,
        reason="Drawn live",
        by=UserFactory(is_staff=True),
        now=after_end(competition),
    )
    second = draw.winners.get(prize__position=2)
    return _redraw(second, UserFactory(is_staff=True)), whale


def test_a_redraw_skips_every_customer_who_already_won(redrawn_once):

    redraw, whale = redrawn_once
    draw = redraw.draw
    users = Ticket.objects.filter(competition=draw.competition).values_list("user_id", flat=True)
    earlier = set(draw.winners.exclude(pk__in=draw.winners.filter(ticket=redraw.new_ticket))
                  .values_list("user_id", flat=True))  # fmt: skip
    (left,) = set(users) - earlier
    assert redraw.new_ticket.user_id == left != whale
    logged = DrawLogEntry.objects.get(action="redrawn")
    assert len(logged.data["excluded_owners"]) == 3
    checks = verify_draw(Draw.objects.get(pk=draw.pk))
    assert all_ok(checks), [c for c in checks if not c.ok]
    assert any("the new winner is not the customer of an earlier winner" in c.name for c in checks)
    out = io.StringIO()
    call_command("verify_draw", draw.competition.slug, stdout=out)
    assert "not the customer of an earlier winner" in out.getvalue()


def test_verification_fails_for_a_redraw_won_by_an_earlier_winners_customer(redrawn_once):

    redraw, _whale = redrawn_once
    draw = redraw.draw
    owners = ledger_owners(draw.competition_id)
    whale_label = owners.labels[draw.winners.get(prize__position=1).ledger_index]
    index = next(
        i
        for i in range(owners.count)
        if owners.labels[i] == whale_label and i not in redraw.excluded_indexes
    )
    # Given to another of the big buyer's entries, as the redraw did before the rule.
    Redraw.objects.filter(pk=redraw.pk).update(
        new_index=index, new_ticket_id=owners.ticket_at(index)[0]
    )
    failed = [c.name for c in verify_draw(Draw.objects.get(pk=draw.pk)) if not c.ok]
    assert any("new winning index" in name for name in failed), failed
    assert any("not the customer of an earlier winner" in name for name in failed), failed
    with pytest.raises(CommandError, match="checks failed"):
        call_command("verify_draw", str(draw.competition_id), stdout=io.StringIO())


def test_published_script_recomputes_the_redraw_with_the_owner_rule(client, redrawn_once, tmp_path):
    redraw, _whale = redrawn_once
    competition = redraw.competition
    html = client.get(reverse("draws:detail", args=[competition.slug])).content.decode()
    assert "every entry of a customer who has won or was disqualified here" in html
    assert "not the customer of an earlier winner" in html  # the page's own checks
    download_all(client, competition, tmp_path)
    assert all(c["ok"] for c in json.loads((tmp_path / "draw.json").read_text())["verification"])
    owners_url = reverse("draws:owners", args=[competition.slug])
    (tmp_path / "owners.txt").write_bytes(b"".join(client.get(owners_url).streaming_content))
    result = run_script(tmp_path, "draw.json", "ledger.txt", "owners.txt")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✓ redraw 1 (prize 2): no earlier winner's customer wins it" in result.stdout

    # The redraw handed to another entry of the 1st prize's customer: refused.
    data = json.loads((tmp_path / "draw.json").read_text())
    labels = [int(x) for x in (tmp_path / "owners.txt").read_text().split()]
    first = data["winners"][0]["ledgerIndex"]
    excluded = set(data["redraws"][0]["excludedIndexes"])
    index = next(
        i for i, label in enumerate(labels) if label == labels[first] and i not in excluded
    )
    ledger = [int(x) for x in (tmp_path / "ledger.txt").read_text().split()]
    data["redraws"][0].update(ledgerIndex=index, ticketNumber=ledger[index])
    (tmp_path / "tampered.json").write_text(json.dumps(data))
    tampered = run_script(tmp_path, "tampered.json", "ledger.txt", "owners.txt")
    assert tampered.returncode == 1
    assert "✗ redraw 1 (prize 2): new winning index recomputed" in tampered.stdout
    assert "✗ redraw 1 (prize 2): no earlier winner's customer wins it" in tampered.stdout
