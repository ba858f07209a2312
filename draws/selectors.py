"""Reading the entry ledger (docs/architecture.md §4): the valid tickets of a competition in
ascending number order. Everything here streams; no caller ever holds every ticket in memory."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db.models import QuerySet

from tickets.models import Ticket

from . import fairness
from .models import Draw, DrawLogEntry

CHUNK = 10_000


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


def ledger_index_of(competition_id: int, number: int) -> int:
    """Position of a valid ticket number in the ledger (an index-only count)."""
    return ledger_tickets(competition_id).filter(number__lt=number).count()


def draw_for(competition_id: int) -> Draw | None:
    """The competition's one draw row (pending once the ledger is frozen), if any."""
    return (
        Draw.objects.filter(competition_id=competition_id)
        .select_related("competition", "winning_ticket", "performed_by")
        .first()
    )


def draw_winners(draw: Draw):
    return draw.winners.select_related("ticket", "prize", "user").order_by("prize__position")


def draw_log(competition_id: int):
    return DrawLogEntry.objects.filter(competition_id=competition_id).select_related("actor")
