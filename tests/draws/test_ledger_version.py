"""The freeze is the one full read of the entry ledger; the draw reads only the winning
positions when the ledger's version proves it unchanged, and re-hashes it otherwise."""

import threading

import pytest
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from competitions.models import Competition
from draws import services
from draws.exceptions import LedgerChanged
from draws.fairness import LedgerHasher
from draws.models import Draw
from draws.selectors import (
    ledger_freeze,
    ledger_index_of,
    ledger_pick,
    ledger_scan,
    ledger_version,
)
from draws.services import draw_freeze_ledger, draw_perform, draw_perform_manual
from draws.verification import all_ok, verify_draw
from tests.factories import TicketFactory, UserFactory, active_competition
from tickets.models import Ticket
from winners.models import Winner

from .conftest import after_end

pytestmark = pytest.mark.django_db

HIGHEST = 3000  # numbers 1..3000: three blocks of the frozen ledger (MIN_BLOCK is 1024)


def _status(number: int) -> str:
    if number % 7 == 0:
        return Ticket.Status.INVALID
    if number % 11 == 0:
        return Ticket.Status.REFUNDED
    return Ticket.Status.ACTIVE


@pytest.fixture
def big_competition():
    """Sold out with 3,000 tickets, some invalid or refunded (so not every number is an entry)."""
    competition = active_competition(prizes=3, max_tickets=HIGHEST)
    user, now = UserFactory(), timezone.now()
    Ticket.objects.bulk_create(
        Ticket(
            competition=competition,
            user=user,
            number=number,
            status=_status(number),
            source=Ticket.Source.POSTAL,
            purchased_at=now,
            refunded_at=now if _status(number) == Ticket.Status.REFUNDED else None,
        )
        for number in range(1, HIGHEST + 1)
    )
    Competition.objects.filter(pk=competition.pk).update(tickets_sold=HIGHEST)
    competition.refresh_from_db()
    return competition


def entries(competition) -> list[int]:
    return [n for n in range(1, HIGHEST + 1) if _status(n) == Ticket.Status.ACTIVE]


def test_freeze_hashes_like_the_published_recipe_and_marks_where_blocks_start(
    on_postgres, big_competition
):
    numbers = entries(big_competition)
    frozen = ledger_freeze(big_competition.pk)

    assert frozen.ledger_hash == LedgerHasher().add_all(numbers).hexdigest()
    assert frozen.ledger_hash == ledger_scan(big_competition.pk).ledger_hash
    assert frozen.count == len(numbers)
    assert frozen.version == ledger_version(big_competition.pk) > 0
    assert len(frozen.marks) == 3
    assert frozen.marks[0] == (0, 1)
    assert all(numbers[index] == number for index, number in frozen.marks)


def test_picks_from_the_marks_are_the_tickets_at_those_positions(on_postgres, big_competition):
    marks = ledger_freeze(big_competition.pk).marks
    numbers = entries(big_competition)
    indexes = sorted(
        {0, 1, len(numbers) - 1, *range(0, len(numbers), 97)}
        | {i + d for i, _n in marks for d in (-1, 0, 1) if 0 <= i + d < len(numbers)}
    )

    picked = ledger_pick(big_competition.pk, indexes, marks)

    assert picked == ledger_scan(big_competition.pk, pick=indexes).picked
    assert [picked[i][1] for i in indexes] == [numbers[i] for i in indexes]
    assert ledger_pick(big_competition.pk, [len(numbers)], marks) == {}  # past the end
    for number in (1, numbers[1500], numbers[-1]):
        assert ledger_index_of(big_competition.pk, number, marks) == numbers.index(number)
        assert ledger_index_of(big_competition.pk, number) == numbers.index(number)


def test_every_ledger_change_moves_the_version_and_nothing_else_does(on_postgres):
    competition = active_competition()
    version = ledger_version(competition.pk)
    assert version == 0  # no row yet

    def moved() -> int:
        nonlocal version
        now, before = ledger_version(competition.pk), version
        version = now
        return now - before

    reserved = TicketFactory(competition=competition, number=1, status=Ticket.Status.RESERVED)
    assert moved() == 0
    Ticket.objects.filter(pk=reserved.pk).update(status=Ticket.Status.ACTIVE)
    assert moved() == 1
    Ticket.objects.filter(pk=reserved.pk).update(purchased_at=timezone.now())
    assert moved() == 0  # not a ledger change
    second = TicketFactory(competition=competition, number=2)
    third = TicketFactory(competition=competition, number=3, status=Ticket.Status.INVALID)
    assert moved() == 1
    Ticket.objects.filter(pk=third.pk).update(status=Ticket.Status.RESERVED)
    assert moved() == 0  # never an entry before or after
    Ticket.objects.filter(pk__in=[reserved.pk, second.pk]).update(
        status=Ticket.Status.REFUNDED, refunded_at=timezone.now()
    )
    assert moved() == 1  # one statement, one step
    with connection.cursor() as cursor:  # SQL bypassing Django is seen too
        cursor.execute("UPDATE tickets_ticket SET status = 'active' WHERE id = %s", [second.pk])
        assert moved() == 1
        cursor.execute("UPDATE tickets_ticket SET number = 9 WHERE id = %s", [second.pk])
        assert moved() == 1
        cursor.execute("DELETE FROM tickets_ticket WHERE id = %s", [second.pk])
        assert moved() == 1


def test_unchanged_ledger_is_drawn_without_reading_it_again(
    on_postgres, big_competition, monkeypatch
):
    draw_freeze_ledger(competition=big_competition, now=after_end(big_competition))

    def no_full_read(*args, **kwargs):
        raise AssertionError("the draw read the whole ledger again")

    with monkeypatch.context() as patched:
        patched.setattr(services, "ledger_scan", no_full_read)
        draw = draw_perform(
            competition=big_competition,
            mode=Draw.Mode.ADMIN,
            now=after_end(big_competition, hours=1),
        )

    assert draw.status == Draw.Status.COMPLETED
    assert Winner.objects.filter(draw=draw).count() == 3
    assert all_ok(verify_draw(draw))  # the full, independent recomputation agrees


def test_manual_winner_on_an_unchanged_ledger_gets_its_true_position(
    on_postgres, big_competition, admin_user
):
    draw_freeze_ledger(competition=big_competition, now=after_end(big_competition))
    number = entries(big_competition)[2000]  # in the second block

    draw = draw_perform_manual(
        competition=big_competition,
        ticket_number=number,
        reason="Witnessed live draw",
        by=admin_user,
        now=after_end(big_competition, hours=1),
    )

    assert draw.winning_index == 2000 and draw.winning_ticket.number == number
    assert all_ok(verify_draw(draw))


def test_a_moved_version_with_the_same_ledger_re_hashes_and_draws(
    on_postgres, big_competition, monkeypatch
):
    frozen = draw_freeze_ledger(competition=big_competition, now=after_end(big_competition))
    ticket = Ticket.objects.get(competition=big_competition, number=1)
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.INVALID)
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.ACTIVE)  # put back
    assert ledger_version(big_competition.pk) == frozen.ledger_version + 2
    full_reads = []
    real_scan = services.ledger_scan
    monkeypatch.setattr(
        services, "ledger_scan", lambda *a, **kw: full_reads.append(1) or real_scan(*a, **kw)
    )

    draw = draw_perform(
        competition=big_competition, mode=Draw.Mode.ADMIN, now=after_end(big_competition, hours=1)
    )

    assert full_reads == [1]
    assert draw.status == Draw.Status.COMPLETED
    assert all_ok(verify_draw(draw))


def test_status_changed_by_sql_after_the_freeze_is_refused_on_every_database(big_competition):
    """On PostgreSQL the version moved (trigger); on SQLite there is no version, so the draw
    re-hashes the ledger. Either way the change is found."""
    draw = draw_freeze_ledger(competition=big_competition, now=after_end(big_competition))
    assert (draw.ledger_version is not None) == (connection.vendor == "postgresql")
    ticket = Ticket.objects.get(competition=big_competition, number=HIGHEST - 1)
    assert ticket.status == Ticket.Status.ACTIVE
    with connection.cursor() as cursor:
        cursor.execute("UPDATE tickets_ticket SET status = 'invalid' WHERE id = %s", [ticket.pk])

    with pytest.raises(LedgerChanged, match="changed after it was frozen"):
        draw_perform(
            competition=big_competition,
            mode=Draw.Mode.ADMIN,
            now=after_end(big_competition, hours=1),
        )
    assert Draw.objects.get().status == Draw.Status.PENDING
    assert not Winner.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_no_ticket_changes_while_the_competition_is_locked(on_postgres):
    """The trigger takes the competition's row lock, so while a draw holds it the ledger it
    proved unchanged stays so; the change waits (here: gives up) instead."""
    competition = active_competition()
    ticket = TicketFactory(competition=competition, number=1)
    outcome = []

    def refund():
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '300ms'")
                Ticket.objects.filter(pk=ticket.pk).update(
                    status=Ticket.Status.REFUNDED, refunded_at=timezone.now()
                )
            outcome.append("refunded")
        except OperationalError as error:
            outcome.append(getattr(error.__cause__, "sqlstate", None))
        finally:
            connection.close()

    with transaction.atomic():
        Competition.objects.select_for_update().get(pk=competition.pk)  # as the draw does
        thread = threading.Thread(target=refund)
        thread.start()
        thread.join(timeout=30)

    assert outcome == ["55P03"]  # lock_not_available
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.ACTIVE
