from collections.abc import Iterator

from tickets.models import Ticket


def ledger_tickets(competition_id: int):
    """The entry ledger: valid tickets in ascending number order (invalid/refunded excluded)."""
    return Ticket.objects.filter(
        competition_id=competition_id, status=Ticket.Status.ACTIVE
    ).order_by("number")


def ledger_numbers(competition_id: int, chunk_size: int = 10_000) -> Iterator[int]:
    """Stream the ledger's numbers without loading every ticket into memory."""
    return (
        ledger_tickets(competition_id)
        .values_list("number", flat=True)
        .iterator(chunk_size=chunk_size)
    )
