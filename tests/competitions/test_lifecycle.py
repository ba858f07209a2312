"""What state a competition is in: the Python rule and the SQL rule, and that they agree."""

from datetime import UTC, datetime, timedelta

import pytest

from competitions.lifecycle import Status, derive_status
from competitions.models import Competition
from tests.factories import FAKE_COMMITMENT, CompetitionFactory

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
END = START + timedelta(days=10)
TICK = timedelta(microseconds=1)

BEFORE_START = START - TICK
AT_START = START
MIDWAY = START + timedelta(days=5)
JUST_BEFORE_END = END - TICK
AT_END = END
AFTER_END = END + timedelta(days=1)


def derive(stored, now, sold=0, max_tickets=100):
    return derive_status(
        stored=stored,
        starts_at=START,
        ends_at=END,
        tickets_sold=sold,
        max_tickets=max_tickets,
        now=now,
    )


@pytest.mark.parametrize(
    ("stored", "now", "expected"),
    [
        # An activated competition follows the clock, whatever was stored last.
        *[
            (stored, now, expected)
            for stored in (Status.UPCOMING, Status.ACTIVE, Status.ENDED)
            for now, expected in [
                (BEFORE_START, Status.UPCOMING),
                (AT_START, Status.ACTIVE),
                (MIDWAY, Status.ACTIVE),
                (JUST_BEFORE_END, Status.ACTIVE),
                (AT_END, Status.ENDED),
                (AFTER_END, Status.ENDED),
            ]
        ],
        # Staff decisions are never overridden by the clock.
        *[
            (stored, now, stored)
            for stored in (Status.DRAFT, Status.DRAWN, Status.CANCELLED)
            for now in (BEFORE_START, AT_START, MIDWAY, AT_END, AFTER_END)
        ],
    ],
)
def test_derive_status_follows_stored_state_and_clock(stored, now, expected):
    assert derive(stored, now) == expected


@pytest.mark.parametrize("stored", [Status.UPCOMING, Status.ACTIVE, Status.ENDED])
@pytest.mark.parametrize("now", [BEFORE_START, AT_START, MIDWAY])
def test_sold_out_competition_has_ended_before_its_end_time(stored, now):
    assert derive(stored, now, sold=100, max_tickets=100) == Status.ENDED
    assert derive(stored, now, sold=99, max_tickets=100) != Status.ENDED


@pytest.mark.parametrize("stored", [Status.DRAFT, Status.DRAWN, Status.CANCELLED])
def test_sold_out_does_not_override_staff_states(stored):
    assert derive(stored, MIDWAY, sold=100, max_tickets=100) == stored


def test_live_status_uses_the_competition_fields(db):
    competition = CompetitionFactory.build(
        status=Status.ACTIVE, starts_at=START, ends_at=END, draw_at=END, max_tickets=10
    )
    assert competition.live_status(BEFORE_START) == Status.UPCOMING
    assert competition.live_status(AT_START) == Status.ACTIVE
    assert competition.live_status(AT_END) == Status.ENDED
    competition.tickets_sold = 10
    assert competition.live_status(MIDWAY) == Status.ENDED
    assert competition.is_sold_out
    assert competition.tickets_left == 0


GRID_TIMES = [BEFORE_START, AT_START, MIDWAY, JUST_BEFORE_END, AT_END, AFTER_END]


@pytest.fixture
def grid(db):
    """One competition per stored status × sold position (empty, one left, sold out)."""
    competitions = []
    for stored in Status.values:
        for sold in (0, 9, 10):
            competitions.append(
                CompetitionFactory(
                    status=stored,
                    seed_commitment="" if stored == Status.DRAFT else FAKE_COMMITMENT,
                    starts_at=START,
                    ends_at=END,
                    draw_at=END,
                    max_tickets=10,
                    max_tickets_per_user=5,
                    tickets_sold=sold,
                )
            )
    return competitions


@pytest.mark.parametrize("now", GRID_TIMES)
@pytest.mark.parametrize("status", Status.values)
def test_sql_status_filter_agrees_with_python_rule(grid, status, now):
    expected = {c.pk for c in grid if c.live_status(now) == status}
    selected = set(Competition.objects.with_status(status, now).values_list("pk", flat=True))
    assert selected == expected


def test_every_competition_has_exactly_one_derived_status(grid):
    for now in GRID_TIMES:
        seen = []
        for status in Status.values:
            seen += list(Competition.objects.with_status(status, now).values_list("pk", flat=True))
        assert sorted(seen) == sorted(c.pk for c in grid)


def test_with_status_rejects_unknown_status(db):
    with pytest.raises(ValueError):
        list(Competition.objects.with_status("paused", MIDWAY))


def test_public_never_lists_drafts(grid):
    assert not Competition.objects.public().filter(status=Status.DRAFT).exists()
    assert Competition.objects.public().count() == len(grid) - 3


def test_closing_soon_only_in_the_last_day_of_sales(settings):
    settings.FAIRDRAW_CLOSING_SOON_HOURS = 24
    competition = CompetitionFactory.build(
        status=Status.ACTIVE, starts_at=START, ends_at=END, draw_at=END, max_tickets=10
    )
    assert not competition.is_closing_soon(END - timedelta(hours=25))
    assert competition.is_closing_soon(END - timedelta(hours=24))
    assert competition.is_closing_soon(END - timedelta(minutes=1))
    assert not competition.is_closing_soon(END)  # ended, no longer "closing"
    competition.status = Status.DRAFT
    assert not competition.is_closing_soon(END - timedelta(hours=1))


def test_percent_sold_rounds_down_and_caps_at_100():
    competition = CompetitionFactory.build(max_tickets=3, tickets_sold=2)
    assert competition.percent_sold == 66
    assert competition.tickets_left == 1
    competition.tickets_sold = 3
    assert competition.percent_sold == 100
