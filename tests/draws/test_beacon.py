"""Beacon-bound draws: the drand round is fixed at activation, the draw waits for it, fetches
it from the relays (failing over), verifies its BLS signature and refuses anything else.

The drand path runs for real against a local fake relay serving the recorded quicknet round
1000 (tests/fakes/drand_relay.py); competitions here close so that their round is 1000."""

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from competitions.lifecycle import Status
from draws.beacon import (
    QUICKNET_CHAIN,
    BeaconInvalid,
    BeaconNotYet,
    BeaconUnavailable,
    DemoBeacon,
    DrandBeacon,
    bls_verify,
    round_at_or_after,
    round_time,
)
from draws.exceptions import BeaconPending, BeaconRefused
from draws.models import Draw, DrawLogEntry
from draws.services import draw_perform, draws_close_and_find_due
from draws.verification import all_ok, verify_draw
from notifications.models import Notification
from tests.factories import TicketFactory, active_competition
from tests.fakes.drand_relay import QUICKNET_ROUND_1000, FakeDrandRelay

pytestmark = pytest.mark.django_db

ROUND_1000_AT = datetime(2023, 8, 23, 15, 59, 24, tzinfo=UTC)  # genesis + 999 × 3 s


def alerts_about(words: str) -> list:
    return [
        n
        for n in Notification.objects.filter(kind=Notification.Kind.ADMIN_ALERT)
        if words in n.payload["subject"]
    ]


def test_quicknet_schedule():
    assert round_time(1000) == ROUND_1000_AT
    assert round_at_or_after(ROUND_1000_AT) == 1000
    assert round_at_or_after(ROUND_1000_AT - timedelta(seconds=1)) == 1000
    assert round_at_or_after(ROUND_1000_AT + timedelta(seconds=1)) == 1001


def test_recorded_round_verifies_and_nothing_else_does():
    signature = QUICKNET_ROUND_1000["signature"]
    assert bls_verify(1000, signature, DrandBeacon.public_key)
    assert not bls_verify(1001, signature, DrandBeacon.public_key)  # another round
    assert not bls_verify(1000, "00" * 48, DrandBeacon.public_key)  # not a point
    assert not bls_verify(1000, signature[:-2], DrandBeacon.public_key)  # truncated
    randomness = hashlib.sha256(bytes.fromhex(signature)).hexdigest()
    assert randomness == QUICKNET_ROUND_1000["randomness"]


@pytest.fixture
def relays():
    with FakeDrandRelay() as first, FakeDrandRelay() as second:
        yield first, second


@pytest.fixture
def drand(settings, relays):
    settings.FAIRDRAW_BEACON = "drand"
    settings.FAIRDRAW_DRAND_RELAYS = [relay.url for relay in relays]
    settings.FAIRDRAW_BEACON_ATTEMPTS = 2
    return relays


def beacon(relays, **kw):
    return DrandBeacon([relay.url for relay in relays], sleep=kw.pop("sleep", lambda s: None), **kw)


def test_fetch_verifies_the_recorded_round(relays):
    got = beacon(relays).fetch(1000, now=ROUND_1000_AT)
    assert (got.chain, got.round) == (QUICKNET_CHAIN, 1000)
    assert got.randomness == QUICKNET_ROUND_1000["randomness"]
    assert not got.demo
    assert relays[0].asked() == [1000] and relays[1].asked() == []


def test_a_round_not_yet_due_is_not_even_asked_for(relays):
    with pytest.raises(BeaconNotYet):
        beacon(relays).fetch(1000, now=ROUND_1000_AT - timedelta(seconds=1))
    assert relays[0].requests == []


@pytest.mark.parametrize("failure", [500, "down"])
def test_fails_over_to_the_next_relay(relays, failure):
    first, second = relays
    urls = ["http://127.0.0.1:9", second.url] if failure == "down" else [first.url, second.url]
    first.script(500)
    got = DrandBeacon(urls, sleep=lambda s: None).fetch(1000, now=ROUND_1000_AT)
    assert got.round == 1000
    assert second.asked() == [1000]


def test_retries_with_back_off_then_gives_up(relays):
    pauses = []
    for relay in relays:
        relay.script(*[503] * 3)
    with pytest.raises(BeaconUnavailable, match="HTTP 503"):
        beacon(relays, attempts=3, backoff=2.0, sleep=pauses.append).fetch(1000, now=ROUND_1000_AT)
    assert pauses == [2.0, 4.0]
    assert len(relays[0].asked()) == len(relays[1].asked()) == 3


def test_forged_signature_is_refused(relays):
    forged = dict(QUICKNET_ROUND_1000)
    # 48 bytes that are not quicknet's signature of round 1000 (random-looking, well formed hex).
    forged["signature"] = DemoBeacon().fetch(1000, now=ROUND_1000_AT).signature[:96]
    forged["randomness"] = hashlib.sha256(bytes.fromhex(forged["signature"])).hexdigest()
    for relay in relays:
        relay.rounds[1000] = forged
    with pytest.raises(BeaconInvalid, match="signature does not verify"):
        beacon(relays).fetch(1000, now=ROUND_1000_AT)


def test_wrong_round_is_refused(relays):
    """A relay answering round 1001 with round 1000's data (or labelling it 1000)."""
    as_1001 = dict(QUICKNET_ROUND_1000, round=1001)
    relays[0].rounds[1001] = as_1001
    relays[1].rounds[1001] = QUICKNET_ROUND_1000
    with pytest.raises(BeaconInvalid) as refused:
        beacon(relays).fetch(1001, now=round_time(1001))
    assert "signature does not verify for round 1001" in str(refused.value)
    assert "round 1000 is not the round asked for (1001)" in str(refused.value)


def test_randomness_must_be_the_hash_of_the_signature(relays):
    for relay in relays:
        relay.rounds[1000] = dict(QUICKNET_ROUND_1000, randomness="00" * 32)
    with pytest.raises(BeaconInvalid, match="randomness is not SHA-256"):
        beacon(relays).fetch(1000, now=ROUND_1000_AT)


def test_one_lying_relay_does_not_stop_an_honest_one(relays):
    relays[0].rounds[1000] = dict(QUICKNET_ROUND_1000, randomness="00" * 32)
    assert beacon(relays).fetch(1000, now=ROUND_1000_AT).round == 1000


# ------------------------------------------------------------------ draws bound to round 1000


@pytest.fixture
def round_1000_competition(drand):
    """Activated (drand settings) on 16 August 2023, closing so that its round is 1000; 20
    postal entries."""
    competition = active_competition(
        now=datetime(2023, 8, 16, 12, tzinfo=UTC),
        starts_at=datetime(2023, 8, 16, 12, tzinfo=UTC),
        ends_at=ROUND_1000_AT - timedelta(seconds=2),
        draw_at=ROUND_1000_AT,
        prizes=2,
        max_tickets=50,
    )
    for number in range(1, 21):
        TicketFactory(competition=competition, number=number)
    return competition


def test_round_is_fixed_at_activation_and_published(client, round_1000_competition):
    competition = round_1000_competition
    assert (competition.beacon_chain, competition.beacon_round) == (QUICKNET_CHAIN, 1000)
    announced = DrawLogEntry.objects.get(competition=competition, action="beacon_round_announced")
    assert announced.data["round"] == 1000
    assert announced.data["expected_at"] == ROUND_1000_AT.isoformat()

    api = client.get(f"/api/draws/{competition.pk}/").json()
    assert api["beacon"]["round"] == 1000 and api["beacon"]["chain"] == QUICKNET_CHAIN
    assert api["beacon"]["randomness"] is None and api["beacon"]["demo"] is False
    assert client.get(f"/api/competitions/{competition.pk}/").json()["beaconRound"] == 1000
    page = client.get(competition.get_absolute_url()).content.decode()
    assert "drand round <strong>1000</strong>" in page and "demo beacon" not in page
    draw_page = client.get(f"/competitions/{competition.slug}/draw/").content.decode()
    assert "Round <strong>1000</strong>" in draw_page
    assert f"/{QUICKNET_CHAIN}/public/1000" in draw_page


def test_draw_before_the_round_waits_and_happens_after(drand, round_1000_competition):
    competition = round_1000_competition
    with pytest.raises(BeaconPending, match="round 1000"):
        draw_perform(
            competition=competition, mode=Draw.Mode.ADMIN, now=ROUND_1000_AT - timedelta(seconds=1)
        )
    assert drand[0].requests == []
    competition.refresh_from_db()
    assert competition.status != Status.DRAWN

    draw = draw_perform(competition=competition, mode=Draw.Mode.ADMIN, now=ROUND_1000_AT)
    assert draw.status == Draw.Status.COMPLETED
    assert (draw.beacon_round, draw.beacon_chain) == (1000, QUICKNET_CHAIN)
    assert draw.beacon_signature == QUICKNET_ROUND_1000["signature"]
    assert draw.entropy == QUICKNET_ROUND_1000["randomness"]
    assert not draw.beacon_demo
    assert all_ok(verify_draw(draw))


def test_relay_without_the_round_yet_keeps_the_draw_pending_then_alerts(
    settings, drand, round_1000_competition
):
    settings.ADMINS = [("Ops", "ops@fairdraw.example")]
    settings.FAIRDRAW_BEACON_ALERT_AFTER_SECONDS = 600
    for relay in drand:
        relay.rounds.clear()
    competition = round_1000_competition
    with pytest.raises(BeaconPending, match="HTTP 404"):
        draw_perform(competition=competition, mode=Draw.Mode.AUTOMATIC, now=ROUND_1000_AT)
    assert not alerts_about("Beacon round unavailable")
    later = ROUND_1000_AT + timedelta(minutes=11)
    for _ in range(2):
        with pytest.raises(BeaconPending):
            draw_perform(competition=competition, mode=Draw.Mode.AUTOMATIC, now=later)
    alerts = alerts_about("Beacon round unavailable")
    assert len(alerts) == 1  # once per round, however often beat retries
    # Still due: the next beat tries again.
    assert draws_close_and_find_due(now=later) == [competition.pk]


def test_forged_beacon_is_refused_logged_and_alerted(settings, drand, round_1000_competition):
    settings.ADMINS = [("Ops", "ops@fairdraw.example")]
    for relay in drand:
        relay.rounds[1000] = dict(QUICKNET_ROUND_1000, round=1001)
    with pytest.raises(BeaconRefused):
        draw_perform(competition=round_1000_competition, mode=Draw.Mode.ADMIN, now=ROUND_1000_AT)
    assert not Draw.objects.filter(status=Draw.Status.COMPLETED).exists()
    assert DrawLogEntry.objects.filter(action="draw_failed").exists()
    assert alerts_about("Draw failed")


def test_close_moved_moves_the_round_publicly(drand):
    from competitions.services import competition_change_dates
    from tests.factories import UserFactory

    now = datetime(2023, 8, 16, 12, tzinfo=UTC)
    competition = active_competition(
        now=now, starts_at=now, ends_at=ROUND_1000_AT - timedelta(seconds=2), draw_at=ROUND_1000_AT
    )
    staff = UserFactory(is_staff=True)
    later = ROUND_1000_AT + timedelta(days=1)
    competition = competition_change_dates(
        competition=competition, by=staff, starts_at=now, ends_at=later, draw_at=later, now=now
    )
    assert competition.beacon_round == round_at_or_after(later)
    moved = DrawLogEntry.objects.get(action="beacon_round_moved")
    assert moved.data["previous_round"] == 1000 and moved.actor == staff
    # A close moved into the past counts from now: never a round already published.
    competition = competition_change_dates(
        competition=competition,
        by=staff,
        starts_at=now,
        ends_at=now + timedelta(hours=1),
        draw_at=now + timedelta(hours=1),
        now=now + timedelta(hours=2),
    )
    assert round_time(competition.beacon_round) >= now + timedelta(hours=2)


def test_demo_beacon_is_labelled_and_serves_past_rounds(client):
    competition = active_competition()
    assert competition.beacon_chain == DemoBeacon().chain
    page = client.get(competition.get_absolute_url()).content.decode()
    assert "demo beacon" in page
    api = client.get(f"/api/draws/{competition.pk}/").json()
    assert api["beacon"]["demo"] is True
    past = DemoBeacon().fetch(1000, now=ROUND_1000_AT)
    assert DemoBeacon().problems(past, expected_round=1000) == []
    assert DemoBeacon().problems(past, expected_round=1001)


def test_published_script_checks_the_quicknet_signature(
    client, drand, round_1000_competition, tmp_path
):
    import shutil
    import subprocess

    from .test_public import download_all, run_script

    draw_perform(competition=round_1000_competition, mode=Draw.Mode.ADMIN, now=ROUND_1000_AT)
    download_all(client, round_1000_competition, tmp_path)
    result = run_script(tmp_path, "draw.json", "ledger.txt")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "drand quicknet round 1000, published 2023-08-23 15:59:24 UTC" in result.stdout
    assert "✓ draw: the round's signature verifies" in result.stdout

    # Another round's number: the announced-round and signature checks fail.
    data = json.loads((tmp_path / "draw.json").read_text())
    data["beacon"]["round"] = 1001
    (tmp_path / "wrong.json").write_text(json.dumps(data))
    wrong = run_script(tmp_path, "wrong.json", "ledger.txt")
    assert wrong.returncode == 1
    assert "✗ draw: beacon round is the one announced" in wrong.stdout
    assert "✗ draw: the round's signature verifies" in wrong.stdout

    # Python without py-ecc (isolated mode): the script says how to check the round instead.
    bare = shutil.which("python3", path="/usr/bin:/bin")
    if bare is None:
        pytest.skip("no system python3")
    plain = subprocess.run(
        [bare, "-I", "-S", str(tmp_path / "verify_draw.py"), "draw.json", "ledger.txt"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert plain.returncode == 0, plain.stdout + plain.stderr
    assert f"/{QUICKNET_CHAIN}/public/1000" in plain.stdout


def test_competition_activated_before_beacon_rounds_gets_one_on_its_first_draw_attempt():
    from competitions.models import Competition

    competition = active_competition()
    for number in (3, 5, 8):
        TicketFactory(competition=competition, number=number)
    Competition.objects.filter(pk=competition.pk).update(beacon_chain="", beacon_round=None)
    attempt = competition.ends_at + timedelta(hours=1)
    with pytest.raises(BeaconPending):
        draw_perform(competition=competition, mode=Draw.Mode.ADMIN, now=attempt)
    competition.refresh_from_db()
    assert round_time(competition.beacon_round) >= attempt  # not a round already out
    assert DrawLogEntry.objects.filter(
        competition=competition,
        action="beacon_round_announced",
        data__round=competition.beacon_round,
    ).exists()
    draw = draw_perform(
        competition=competition, mode=Draw.Mode.ADMIN, now=round_time(competition.beacon_round)
    )
    assert draw.beacon_round == competition.beacon_round
    assert all_ok(verify_draw(draw))
