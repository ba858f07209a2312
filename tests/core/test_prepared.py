"""core.prepared: a hot statement is PREPAREd once per connection, then only EXECUTEd."""

import pytest
from django.db import DataError, connection, transaction
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
