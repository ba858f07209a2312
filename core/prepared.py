"""Statements a hot path sends on every purchase, parsed and planned once per connection.

A checkout's written-out statements (tickets.services.rules) reach PostgreSQL as text, and for
the wide rows a purchase reads, parsing, analysing and planning them costs the database more
CPU than running them. `execute_prepared` sends `PREPARE` with the statement the first time a
connection runs it, in the same query string as its first `EXECUTE`, and only `EXECUTE` from
then on: PostgreSQL parses it once per connection and, after a few runs, keeps one plan (what
psycopg's automatic preparation does for server-side binding, here with Django's client-side
binding, which lets statements before and after it share its round trip: `SET LOCAL
lock_timeout` in front, `COMMIT` behind).

Off where it cannot work: on SQLite, with server-side binding, or with
FAIRDRAW_PREPARED_STATEMENTS=false (behind a pooler that hands each transaction to any server
connection, such as PgBouncer in transaction mode, which does not carry SQL-level PREPARE).
"""

import hashlib
import re
import weakref

from django.conf import settings
from django.db import DatabaseError, connection

# Per psycopg connection (a new one after a reconnect): the names PREPAREd on it.
_prepared: "weakref.WeakKeyDictionary[object, set[str]]" = weakref.WeakKeyDictionary()
# Each name's statement, for `readable`.
_texts: dict[str, str] = {}
_EXECUTE = re.compile(r"\bEXECUTE (fairdraw_[0-9a-f]{16})\b")

_PLACEHOLDER = re.compile(r"%%|%s")
DUPLICATE_PREPARED_STATEMENT = "42P05"
IN_FAILED_TRANSACTION = "25P02"


def enabled(db=None) -> bool:
    """Whether statements are prepared on `db` (a connection; default: the default one)."""
    db = db if db is not None else connection
    return (
        db.vendor == "postgresql"
        and settings.FAIRDRAW_PREPARED_STATEMENTS
        and not db.settings_dict["OPTIONS"].get("server_side_binding")
    )


def statement_name(sql: str) -> str:
    return "fairdraw_" + hashlib.blake2b(sql.encode(), digest_size=8).hexdigest()


def numbered(sql: str) -> str:
    """`sql` with its `%s` placeholders as `$1`, `$2`, ... (`%%` stays a literal %)."""
    count = 0

    def number(match):
        nonlocal count
        if match.group() == "%%":
            return "%%"
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(number, sql)


def execute_prepared(cursor, sql: str, params=(), *, before: str = "", after: str = "") -> None:
    """Run `sql` (one statement, `%s` placeholders) with `params`, prepared on this connection,
    with `before` and `after` (statements without parameters) in the same round trip; the
    cursor is left on `sql`'s result. Where preparing is off, the same statements as text."""
    execute_prepared_parts(cursor, [before, (sql, params), after])
    _skip(cursor, 1 if before else 0)


def execute_prepared_parts(cursor, parts) -> None:
    """Several statements in one round trip, in order: each part a statement without
    parameters (a str, sent as it is; "" for none) or a `(sql, params)` pair, prepared on this
    connection as `execute_prepared` prepares one. The cursor is left on the first part's
    result (`cursor.nextset()` for the next). Where preparing is off, the same statements as
    text."""
    parts = [part for part in parts if part]
    db = cursor.db  # the connection itself, not django.db.connection's per-thread lookup
    texts: list[str] = []
    values: list = []
    if not enabled(db):
        for part in parts:
            sql, params = (part, ()) if isinstance(part, str) else part
            texts.append(sql)
            values += params
        cursor.execute("; ".join(texts), values)
        return
    names = _prepared.setdefault(db.connection, set())  # (the cursor has connected)
    fresh: dict[str, str] = {}
    for part in parts:
        if isinstance(part, str):
            texts.append(part)
            continue
        sql, params = part
        params = list(params)
        name = statement_name(sql)
        _texts.setdefault(name, sql)
        if name not in names:
            fresh[name] = sql
        texts.append(f"EXECUTE {name}" + (f"({', '.join(['%s'] * len(params))})" if params else ""))
        values += params
    # The PREPAREs first: an error from a later statement means they all ran.
    prepares = [f"PREPARE {name} AS {numbered(sql)}" for name, sql in fresh.items()]
    try:
        cursor.execute("; ".join(prepares + texts), values)
    except DatabaseError as exc:
        names.update(_prepared_before(exc, list(fresh)))
        raise
    names.update(fresh)
    _skip(cursor, len(prepares))


def readable(sql: str) -> str:
    """A query string as sent, with each `EXECUTE name` followed by the statement it runs (for
    logs and for tests that read the SQL sent)."""
    return _EXECUTE.sub(lambda m: f"{m.group()} /* {_texts.get(m.group(1), '?')} */", sql)


def _prepared_before(exc: DatabaseError, fresh: list[str]) -> list[str]:
    """Which of the `fresh` names (PREPAREd, in this order, at the start of a query string that
    failed) exist now. The statements run in order, so an error from a later one (a lock
    timeout, a refused claim) comes after them all; "already exists" names the one that did
    (those before it ran); any other error of a PREPARE is a syntax or type error (class 42)
    and one of an aborted transaction stops the first: neither tells which ran, so none is
    counted (one that had will answer "already exists" next time, which names it)."""
    sqlstate = getattr(exc.__cause__, "sqlstate", None) or ""
    if sqlstate == DUPLICATE_PREPARED_STATEMENT:
        message = str(exc.__cause__)
        for index, name in enumerate(fresh):
            if f'"{name}"' in message:
                return fresh[: index + 1]
        return []
    if not sqlstate or sqlstate.startswith("42") or sqlstate == IN_FAILED_TRANSACTION:
        return []
    return fresh


def _skip(cursor, results: int) -> None:
    for _ in range(results):
        cursor.nextset()
