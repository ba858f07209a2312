"""Reading the entry ledger (docs/architecture.md §4): the valid tickets of a competition in
ascending number order. Everything here streams; no caller ever holds every ticket in memory.

Two ways to read it:
- `ledger_scan` hashes it number by number in Python, the recipe of `draws.fairness` and of the
  published script. Verification always uses it, and so does a draw that cannot prove the
  ledger unchanged.
- `ledger_freeze` (PostgreSQL) is the one full read at close: the database writes the ledger's
  lines in blocks of consecutive numbers, Python hashes the blocks and notes where each one
  starts (`marks`), and the ledger's version (`LedgerVersion`) is recorded beside the hash.
  A draw that finds the version unchanged reads only the winning positions (`ledger_pick`),
  each from the nearest mark.
"""

import hashlib
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Max, QuerySet

from tickets.models import Ticket

from . import fairness
from .models import Draw, DrawLogEntry, LedgerVersion, Redraw

CHUNK = 10_000
# The frozen ledger is cut into at most this many blocks of consecutive numbers (never
# narrower than MIN_BLOCK numbers), so the marks stay small and a pick reads one block.
MAX_BLOCKS = 1024
MIN_BLOCK = 1024


def ledger_tickets(competition_id: int) -> QuerySet[Ticket]:
    """The entry ledger: active tickets only (invalid, refunded or merely reserved tickets
    never enter it), ascending by number. Served by the (competition, status, number) index."""
    return Ticket.objects.filter(
        competition_id=competition_id, status=Ticket.Status.ACTIVE
    ).order_by("number")


def ledger_numbers(competition_id: int, chunk_size: int = CHUNK) -> Iterator[int]:
    """Stream the ledger's numbers without loading every ticket into memory."""
    return (
        ledger_tickets(competition_id)
        .values_list("number", flat=True)
        .iterator(chunk_size=chunk_size)
    )


def ledger_chunks(competition_id: int, chunk_size: int = CHUNK) -> Iterator[bytes]:
    """The ledger file, exactly the bytes that are hashed, in pieces of `chunk_size` lines."""
    lines: list[bytes] = []
    for number in ledger_numbers(competition_id, chunk_size):
        lines.append(fairness.ledger_line(number))
        if len(lines) >= chunk_size:
            yield b"".join(lines)
            lines = []
    if lines:
        yield b"".join(lines)


@dataclass
class LedgerScan:
    ledger_hash: str
    count: int
    # ledger index -> (ticket id, ticket number), for the indexes asked for
    picked: dict[int, tuple[int, int]] = field(default_factory=dict)


def ledger_scan(competition_id: int, *, pick: Iterable[int] = ()) -> LedgerScan:
    """Hash the ledger in one streamed pass, noting the tickets at the `pick` indexes on the
    way (no OFFSET queries, no list of tickets)."""
    wanted = set(pick)
    hasher = fairness.LedgerHasher()
    picked: dict[int, tuple[int, int]] = {}
    if not wanted:
        hasher.add_all(ledger_numbers(competition_id))
        return LedgerScan(hasher.hexdigest(), hasher.count)
    rows = ledger_tickets(competition_id).values_list("number", "id").iterator(chunk_size=CHUNK)
    for number, ticket_id in rows:
        if hasher.count in wanted:
            picked[hasher.count] = (ticket_id, number)
        hasher.add(number)
    return LedgerScan(hasher.hexdigest(), hasher.count, picked)


@dataclass
class LedgerOwners:
    """The ledger with its owners list (one prize per customer, draws.fairness): both hashes,
    the count, and per ledger index the owner label, ticket id and number (arrays: a million
    entries take a few tens of megabytes, read once)."""

    ledger_hash: str
    count: int
    owners_hash: str
    owner_count: int
    labels: array
    ticket_ids: array
    numbers: array

    def ticket_at(self, index: int) -> tuple[int, int]:
        return self.ticket_ids[index], self.numbers[index]


def ledger_owners(competition_id: int) -> LedgerOwners:
    """Hash the ledger and its owners list in one streamed pass. Owners are labelled 1, 2, ...
    in the order their first entry appears: pseudonyms that say which entries share an owner
    and nothing about who it is. A postal entry is its customer's. The draw-at-one-read
    shortcut does not apply: the owner rule needs every entry's owner, so a draw with one
    prize per customer reads the whole ledger (as verification always does)."""
    hasher, owners_sha, seen = fairness.LedgerHasher(), hashlib.sha256(), {}
    labels, ticket_ids, numbers = array("L"), array("Q"), array("Q")
    rows = (
        ledger_tickets(competition_id)
        .values_list("number", "id", "user_id")
        .iterator(chunk_size=CHUNK)
    )
    for number, ticket_id, user_id in rows:
        hasher.add(number)
        label = seen.setdefault(user_id, len(seen) + 1)
        owners_sha.update(fairness.owner_line(label))
        labels.append(label)
        ticket_ids.append(ticket_id)
        numbers.append(number)
    return LedgerOwners(
        hasher.hexdigest(),
        hasher.count,
        owners_sha.hexdigest(),
        len(seen),
        labels,
        ticket_ids,
        numbers,
    )


def owners_chunks(competition_id: int) -> Iterator[bytes]:
    """The owners list file, exactly the bytes whose SHA-256 is the owners hash."""
    owners = ledger_owners(competition_id)
    for start in range(0, owners.count, CHUNK):
        yield b"".join(fairness.owner_line(label) for label in owners.labels[start : start + CHUNK])


def ledger_version(competition_id: int) -> int | None:
    """How many times the competition's ledger has changed (see `LedgerVersion`); None where
    the database keeps no version (SQLite), so nothing can be proved unchanged."""
    if connection.vendor != "postgresql":
        return None
    version = (
        LedgerVersion.objects.filter(competition_id=competition_id)
        .values_list("version", flat=True)
        .first()
    )
    return version or 0


@dataclass(frozen=True)
class LedgerFreeze:
    ledger_hash: str
    count: int
    version: int | None  # None: unprovable, the draw re-hashes the ledger
    # (ledger index, number) of the first entry of each block, ascending
    marks: list[tuple[int, int]] = field(default_factory=list)


# The ledger's lines, `number::text || E'\n'`, are the bytes of `fairness.ledger_line`. Each
# block is one index range scan of (competition, status, number); the blocks come in the
# order of the series (checked below, so a different plan fails instead of mis-hashing).
_BLOCKS_SQL = r"""
SELECT block.first, block.entries, block.lines
FROM generate_series(0, %(highest)s::bigint / %(width)s::bigint) AS series(i)
CROSS JOIN LATERAL (
    SELECT min(number) AS first, count(*) AS entries,
        convert_to(string_agg(number::text || E'\n', '' ORDER BY number), 'UTF8') AS lines
    FROM tickets_ticket
    WHERE competition_id = %(competition)s AND status = %(status)s
        AND number >= series.i * %(width)s::bigint
        AND number < (series.i + 1) * %(width)s::bigint
) AS block
WHERE block.entries > 0
"""


def ledger_freeze(competition_id: int) -> LedgerFreeze:
    """Hash the ledger for its freeze, in one read; with its version and marks on PostgreSQL.

    The caller holds the competition's row lock, which every ledger change needs (the
    version trigger takes it), so the version and the lines read are of the same ledger."""
    if connection.vendor != "postgresql":
        scan = ledger_scan(competition_id)
        return LedgerFreeze(scan.ledger_hash, scan.count, None)
    version = ledger_version(competition_id)
    highest = ledger_tickets(competition_id).aggregate(highest=Max("number"))["highest"]
    if highest is None:
        return LedgerFreeze(fairness.LedgerHasher().hexdigest(), 0, version)
    width = max(MIN_BLOCK, -(-highest // MAX_BLOCKS))
    sha, count, marks = hashlib.sha256(), 0, []
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Compiling this plan (its estimated cost is high) takes longer than running it;
            # off for the rest of this transaction.
            cursor.execute("SET LOCAL jit = off")
        with connection.chunked_cursor() as cursor:
            params = {
                "highest": highest,
                "width": width,
                "competition": competition_id,
                "status": Ticket.Status.ACTIVE,
            }
            cursor.execute(_BLOCKS_SQL, params)
            while rows := cursor.fetchmany(64):
                for first, entries, lines in rows:
                    if marks and first <= marks[-1][1]:
                        raise ValueError("Ledger blocks arrived out of order.")
                    marks.append((count, first))
                    sha.update(lines)
                    count += entries
    return LedgerFreeze(sha.hexdigest(), count, version, marks)


def ledger_pick(
    competition_id: int, indexes: Iterable[int], marks: Sequence[Sequence[int]]
) -> dict[int, tuple[int, int]]:
    """The tickets at `indexes` of a ledger proved unchanged since its freeze, each read from
    the nearest mark (one block at most): ledger index -> (ticket id, ticket number).
    An index the ledger does not have is left out."""
    starts = [index for index, _number in marks]
    picked: dict[int, tuple[int, int]] = {}
    for index in indexes:
        at = bisect_right(starts, index) - 1
        if at < 0:
            continue
        start, number = marks[at]
        skip = index - start
        rows = (
            ledger_tickets(competition_id)
            .filter(number__gte=number)
            .values_list("id", "number")[skip : skip + 1]
        )
        for ticket_id, ticket_number in rows:
            picked[index] = (ticket_id, ticket_number)
    return picked


def ledger_index_of(competition_id: int, number: int, marks: Sequence[Sequence[int]] = ()) -> int:
    """Position of a valid ticket number in the ledger: an index-only count, from the nearest
    mark when the ledger is proved unchanged since its freeze."""
    start, first = 0, 0
    at = bisect_right([mark_number for _index, mark_number in marks], number) - 1
    if at >= 0:
        start, first = marks[at]
    return (
        start + ledger_tickets(competition_id).filter(number__gte=first, number__lt=number).count()
    )


def draw_for(competition_id: int) -> Draw | None:
    """The competition's one draw row (pending once the ledger is frozen), if any."""
    return (
        Draw.objects.filter(competition_id=competition_id)
        .select_related("competition", "winning_ticket", "performed_by")
        .first()
    )


def draw_winners(draw: Draw):
    """The winners the draw itself picked (a disqualified one included), not those of redraws."""
    redrawn = Redraw.objects.filter(draw=draw, new_ticket__isnull=False).values("new_ticket")
    return (
        draw.winners.exclude(ticket__in=redrawn)
        .select_related("ticket", "prize", "user")
        .order_by("prize__position")
    )


def draw_redraws(draw: Draw):
    return (
        Redraw.objects.filter(draw=draw)
        .select_related("prize", "disqualified_ticket", "new_ticket")
        .order_by("sequence")
    )


def draw_log(competition_id: int):
    return DrawLogEntry.objects.filter(competition_id=competition_id).select_related("actor")


def beacon_public(competition, draw=None) -> dict | None:
    """What pages and the API publish about a competition's beacon round: announced at
    activation (chain, round, when it is published), then, once drawn, the signature and
    randomness the draw used. None for a competition with no round announced (a draft)."""
    from django.conf import settings

    from .beacon import QUICKNET_CHAIN, beacon_for_chain, beacon_label, round_time

    chain, number = competition.beacon_chain, competition.beacon_round
    if draw is not None and draw.beacon_round is not None:
        chain, number = draw.beacon_chain, draw.beacon_round
    if number is None:
        return None
    provider = beacon_for_chain(chain)
    relays = settings.FAIRDRAW_DRAND_RELAYS or ["https://api.drand.sh"]
    used = draw is not None and draw.is_done and draw.beacon_round is not None
    return {
        "name": beacon_label(chain),
        "chain": chain,
        "round": number,
        "announced_round": competition.beacon_round,
        "expected_at": round_time(number),
        "demo": bool(provider and provider.demo),
        "public_key": provider.public_key if provider else "",
        "scheme": provider.scheme if provider else "",
        "signature": draw.beacon_signature if used else None,
        "randomness": draw.entropy if used else None,
        "relay_url": (
            f"{relays[0].rstrip('/')}/{chain}/public/{number}" if chain == QUICKNET_CHAIN else ""
        ),
    }
