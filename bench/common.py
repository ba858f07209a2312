"""Set-up shared by the benchmarks (imported after Django is configured)."""

import time
from datetime import timedelta
from decimal import Decimal


def bench_competition(
    *, label: str, max_tickets: int, prizes: int = 1, ends_in=None, now=None, **fields
):
    """An on-sale competition made through the real activation service, and its correct
    answer. Bench data skips the minimum open time (it closes in a week, or `ends_in`);
    `now` is when it is made and activated (default: now; an earlier one gives a competition
    that has closed since, with its beacon round announced then); `fields` sets any other
    column (e.g. is_featured)."""
    from django.utils import timezone

    from competitions.models import AnswerChoice, Competition, Prize
    from competitions.services import competition_activate

    now = now or timezone.now()
    stamp = f"{label}-{int(time.time() * 1000)}"
    competition = Competition.objects.create(
        title=f"Bench {stamp}",
        slug=f"bench-{stamp}",
        prize_description="Benchmark",
        prize_value=Decimal("1000"),
        ticket_price=Decimal("0.99"),
        max_tickets=max_tickets,
        max_tickets_per_user=max_tickets,
        starts_at=now - timedelta(days=1),
        ends_at=now + (ends_in or timedelta(days=7)),
        draw_at=now + (ends_in or timedelta(days=7)),
        question="2 + 2?",
        **fields,
    )
    answer = AnswerChoice.objects.create(competition=competition, text="4", is_correct=True)
    AnswerChoice.objects.create(competition=competition, text="5")
    for position in range(1, prizes + 1):
        Prize.objects.create(
            competition=competition, position=position, title=f"Prize {position}", value=1
        )
    competition_activate(competition=competition, now=now, min_clear_days=0)
    return competition, answer


def delete_with_referencing_rows(rows: dict[str, list]) -> dict[str, int]:
    """Delete rows given by table and primary keys, with every row that references them,
    directly or through other rows, in one transaction; returns the rows deleted per table.

    The references are read from PostgreSQL's foreign keys, so a table added later is
    included without naming it here. Django checks its foreign keys at commit (DEFERRABLE
    INITIALLY DEFERRED), so the order of the deletes does not matter to them. A trigger may
    write rows that reference the rows going (deleting tickets bumps their competition's
    ledger version): passes repeat until one finds nothing left, and the foreign keys are
    checked before returning."""
    from django.db import connection, transaction

    quote = connection.ops.quote_name
    deleted: dict[str, int] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        keys, references = _foreign_keys(cursor)
        doomed: dict[str, str] = {}  # table: the temporary table of its keys to delete

        def doom(table: str, query: str, params=()) -> int:
            if table not in keys:
                raise ValueError(f"{table} has no single-column primary key to delete by.")
            if table not in doomed:
                doomed[table] = quote(f"bench_doomed_{len(doomed)}")
                cursor.execute(
                    f"CREATE TEMP TABLE {doomed[table]} (key {keys[table][1]} PRIMARY KEY)"
                )
            cursor.execute(f"INSERT INTO {doomed[table]} {query} ON CONFLICT DO NOTHING", params)
            return cursor.rowcount

        for table, ids in rows.items():
            doom(table, f"SELECT unnest(%s::{keys[table][1]}[])", [list(ids)])
        for _ in range(10):
            pending = list(doomed)
            while pending:  # until no table gains a row: cycles end too
                parent = pending.pop()
                parent_key = quote(keys[parent][0])
                for child, column, parent_column in references.get(parent, ()):
                    going = f"SELECT key FROM {doomed[parent]}"
                    if parent_column != keys[parent][0]:
                        going = (
                            f"SELECT {quote(parent_column)} FROM {quote(parent)} "
                            f"WHERE {parent_key} IN ({going})"
                        )
                    found = doom(
                        child,
                        f"SELECT {quote(keys[child][0])} FROM {quote(child)} "
                        f"WHERE {quote(column)} IN ({going})",
                    )
                    if found:
                        pending.append(child)
            gone = 0
            for table, temporary in reversed(doomed.items()):  # referencing rows first
                cursor.execute(f"ANALYZE {temporary}")
                cursor.execute(
                    f"DELETE FROM {quote(table)} "
                    f"WHERE {quote(keys[table][0])} IN (SELECT key FROM {temporary})"
                )
                deleted[table] = deleted.get(table, 0) + cursor.rowcount
                gone += cursor.rowcount
            if not gone:
                break
        else:
            raise RuntimeError("Rows referencing the deleted ones keep appearing.")
        for temporary in doomed.values():
            cursor.execute(f"DROP TABLE {temporary}")
        connection.check_constraints()
    return {table: count for table, count in deleted.items() if count}


def _foreign_keys(cursor):
    """Each table's primary key (column, type), and for each table the single-column foreign
    keys that reference it: (referencing table, its column, the referenced column)."""
    cursor.execute(
        """
        SELECT c.conrelid::regclass::text, a.attname, format_type(a.atttypid, a.atttypmod)
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE c.contype = 'p' AND cardinality(c.conkey) = 1 AND n.nspname = current_schema()
        """
    )
    keys = {table: (column, kind) for table, column, kind in cursor.fetchall()}
    cursor.execute(
        """
        SELECT c.confrelid::regclass::text, c.conrelid::regclass::text, a.attname, pa.attname
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = c.confkey[1]
        JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE c.contype = 'f' AND cardinality(c.conkey) = 1 AND n.nspname = current_schema()
        ORDER BY 1, 2, 3
        """
    )
    references: dict[str, list] = {}
    for parent, child, column, parent_column in cursor.fetchall():
        references.setdefault(parent, []).append((child, column, parent_column))
    return keys, references
