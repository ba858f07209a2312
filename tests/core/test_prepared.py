"""core.prepared: a hot statement is PREPAREd once per connection, then only EXECUTEd."""

import pytest
from django.db import DatabaseError, DataError, connection, transaction
from django.test.utils import CaptureQueriesContext

from core import prepared

pytestmark = pytest.mark.django_db

SQL = "SELECT %s::integer + %s::integer, '100%%'"


def run(sql=SQL, params=(1, 2), **kw):
    with CaptureQueriesContext(connection) as sent, connection.cursor() as cursor:
        prepared.execute_prepared(cursor, sql, params, **kw)
        row = cursor.fetchone()
    return row, [q["sql"] for q in sent.captured_queries]


def test_placeholders_are_numbered_and_a_literal_percent_stays():
    assert prepared.numbered(SQL) == "SELECT $1::integer + $2::integer, '100%%'"


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_prepared_the_first_time_then_only_executed():
    sql = SQL + " AS first_test"
    name = prepared.statement_name(sql)

    first, sent_first = run(sql)
    second, sent_second = run(sql, params=(40, 2))

    assert first == (3, "100%") and second == (42, "100%")
    assert f"PREPARE {name} AS" in sent_first[0]
    assert sent_second == [f"EXECUTE {name}(40, 2)"]
    assert "SELECT %s::integer" in prepared.readable(sent_second[0])


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_statements_before_and_after_share_the_round_trip():
    with transaction.atomic():
        row, sent = run(SQL + " AS shared", before="SET LOCAL lock_timeout = 1234")
        with connection.cursor() as cursor:
            cursor.execute("SHOW lock_timeout")
            (timeout,) = cursor.fetchone()
    assert row == (3, "100%") and len(sent) == 1 and timeout == "1234ms"


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_statement_that_failed_after_its_prepare_is_not_prepared_again():
    """A refused claim fails in its EXECUTE: the PREPARE before it ran, and sending it again
    would fail the next purchase with "prepared statement already exists"."""
    sql = "SELECT 1 / %s::integer AS failing_test"
    with pytest.raises(DataError), transaction.atomic():
        run(sql, params=(0,))
    row, sent = run(sql, params=(1,))
    assert row == (1,) and sent[0].startswith("EXECUTE ")


def test_off_by_setting_sends_the_statement_itself(settings):
    settings.FAIRDRAW_PREPARED_STATEMENTS = False
    row, sent = run("SELECT %s + %s, '100%%' AS plain_test")  # (SQLite too)
    assert row == (3, "100%")
    assert "PREPARE" not in sent[0] and "EXECUTE" not in sent[0]


def run_parts(parts):
    with CaptureQueriesContext(connection) as sent, connection.cursor() as cursor:
        prepared.execute_prepared_parts(cursor, parts)
        rows = [cursor.fetchall()]
        while cursor.nextset():
            rows.append(cursor.fetchall() if cursor.description else None)
    return rows, [q["sql"] for q in sent.captured_queries]


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_several_prepared_statements_share_one_round_trip():
    """A checkout's order insert and ticket insert go together (tickets.services.rules)."""
    first = ("SELECT %s::integer * 2 AS parts_a", [21])
    second = ("SELECT %s::text || '!' AS parts_b", ["win"])
    names = [prepared.statement_name(sql) for sql, _ in (first, second)]
    with transaction.atomic():
        rows, sent = run_parts([first, "SAVEPOINT parts", second])
        again, sent_again = run_parts([first, "SAVEPOINT parts", second])

    assert rows == again == [[(42,)], None, [("win!",)]]
    assert len(sent) == 1 and all(f"PREPARE {name} AS" in sent[0] for name in names)
    assert sent_again == [f"EXECUTE {names[0]}(21); SAVEPOINT parts; EXECUTE {names[1]}('win')"]


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_statement_prepared_behind_our_back_is_taken_as_prepared():
    """If the connection holds a name this process does not know of, "already exists" names
    it: that one and those before it count as prepared, the rest are prepared next time."""
    first = ("SELECT %s::integer AS known_a", [1])
    second = ("SELECT %s::integer AS known_b", [2])
    a, b = (prepared.statement_name(sql) for sql, _ in (first, second))
    with connection.cursor() as cursor:
        cursor.execute(f"PREPARE {b} AS SELECT $1::integer AS known_b")
    with pytest.raises(DatabaseError), transaction.atomic():
        run_parts([first, second])  # a prepared, b "already exists"
    rows, sent = run_parts([first, second])
    assert rows == [[(1,)], [(2,)]]
    assert sent == [f"EXECUTE {a}(1); EXECUTE {b}(2)"]


@pytest.mark.skipif("connection.vendor != 'postgresql'")  # one statement a call on SQLite
def test_parts_off_by_setting_are_sent_as_text(settings):
    settings.FAIRDRAW_PREPARED_STATEMENTS = False
    rows, sent = run_parts([("SELECT %s + 1 AS text_a", [1]), ("SELECT %s + 2 AS text_b", [1])])
    assert rows[0] == [(2,)]
    assert "PREPARE" not in sent[0] and "EXECUTE" not in sent[0]
