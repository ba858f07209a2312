"""Tickets as CSV, streamed: constant memory however many rows (a million is routine).

One function writes the rows for the admin's export (with the changelist's filters), for
`manage.py export_tickets` and for the benchmark, so the three agree on the columns. Rows are
read with `values_list(...).iterator()` (a server-side cursor on PostgreSQL) and written in
batches, so neither model instances nor the whole file ever sit in memory."""

import csv
from collections.abc import Iterator

from .models import Ticket

COLUMNS = (
    ("ticket_id", "pk"),
    ("competition", "competition__slug"),
    ("number", "number"),
    ("status", "status"),
    ("source", "source"),
    ("customer_email", "user__email"),
    ("customer_first_name", "user__first_name"),
    ("customer_last_name", "user__last_name"),
    ("order_reference", "order__reference"),
    ("purchased_at", "purchased_at"),
    ("refunded_at", "refunded_at"),
)
CHUNK_SIZE = 5000


class _Line:
    """A file-like object csv.writer writes into, handing back what it wrote."""

    def __init__(self):
        self.parts = []

    def write(self, text):
        self.parts.append(text)

    def take(self) -> str:
        text = "".join(self.parts)
        self.parts.clear()
        return text


def _cell(value):
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


# A cell starting with one of these is read as a formula by spreadsheets (tab and carriage
# return too: some strip them and read what follows).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _guarded(cell):
    """Spreadsheet formula injection: a text cell starting like a formula is shown as text.
    An empty cell stays empty."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def tickets_csv(queryset=None, *, chunk_size: int = CHUNK_SIZE) -> Iterator[str]:
    """Yield the CSV text of `queryset` (all tickets by default), header first, a batch of
    rows at a time. Refuses nothing: callers choose the rows (and who may see them)."""
    if queryset is None:
        queryset = Ticket.objects.order_by("competition_id", "number")
    buffer = _Line()
    writer = csv.writer(buffer)
    writer.writerow([name for name, _ in COLUMNS])
    yield buffer.take()
    rows = queryset.values_list(*(lookup for _, lookup in COLUMNS)).iterator(chunk_size=chunk_size)
    for written, row in enumerate(rows, start=1):
        writer.writerow([_guarded(_cell(value)) for value in row])
        if written % 1000 == 0:
            yield buffer.take()
    tail = buffer.take()
    if tail:
        yield tail
