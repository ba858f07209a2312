"""Performing a competition's draw (DESIGN §4): freeze the ledger, select, reveal, record."""

from django.db import transaction
from django.utils import timezone

from competitions.lifecycle import Status
from competitions.models import Competition, Prize
from winners.models import Winner

from . import fairness
from .exceptions import AlreadyDrawn, DrawNotDue
from .models import Draw, DrawLogEntry
from .selectors import ledger_numbers, ledger_tickets


@transaction.atomic
def draw_perform(
    *, competition: Competition, mode: str, by=None, entropy: str = "", now=None
) -> Draw:
    """Draw every draw prize of an ended competition at random, exactly once.

    The competition row lock serialises concurrent attempts; the partial unique index on
    completed draws is the database's last word. Any failure rolls the whole draw back."""
    now = now or timezone.now()
    competition = Competition.objects.select_for_update().get(pk=competition.pk)
    if competition.status == Status.DRAWN:
        raise AlreadyDrawn(f"“{competition.title}” has already been drawn.")
    if competition.live_status(now) != Status.ENDED:
        raise DrawNotDue(
            f"“{competition.title}” is {competition.live_status(now).label.lower()}, not ended."
        )

    ledger = fairness.LedgerHasher().add_all(ledger_numbers(competition.pk))
    ledger_hash = ledger.hexdigest()
    DrawLogEntry.objects.create(
        competition=competition,
        actor=by,
        action="ledger_frozen",
        message=f"Entry ledger frozen with {ledger.count} entries.",
        data={"ledger_hash": ledger_hash, "entry_count": ledger.count},
    )
    prizes = list(competition.prizes.filter(kind=Prize.Kind.DRAW).order_by("position"))
    indexes = fairness.winning_indexes(
        seed=competition.draw_seed,
        ledger_hash=ledger_hash,
        entropy=entropy,
        count=ledger.count,
        prizes=len(prizes),
    )
    tickets = [ledger_tickets(competition.pk).select_related("user")[i] for i in indexes]
    draw = Draw.objects.create(
        competition=competition,
        mode=mode,
        status=Draw.Status.COMPLETED if tickets else Draw.Status.NO_ENTRIES,
        performed_by=by,
        performed_at=now,
        seed=competition.draw_seed,
        seed_commitment=competition.seed_commitment,
        ledger_hash=ledger_hash,
        entry_count=ledger.count,
        entropy=entropy,
        winning_index=indexes[0] if indexes else None,
        winning_ticket=tickets[0] if tickets else None,
    )
    for prize, index, ticket in zip(prizes, indexes, tickets, strict=False):
        Winner.objects.create(
            competition=competition,
            prize=prize,
            draw=draw,
            ticket=ticket,
            user=ticket.user,
            ledger_index=index,
            display_name=ticket.user.public_name,
            announcement=(
                f"Congratulations to {ticket.user.public_name}, winner of {prize.title} "
                f"with ticket #{ticket.number}!"
            ),
        )
    competition.status = Status.DRAWN
    competition.save(update_fields=["status", "updated_at"])
    DrawLogEntry.objects.create(
        competition=competition,
        draw=draw,
        actor=by,
        action="drawn" if tickets else "closed_without_entries",
        message=(
            "Winners: " + ", ".join(f"#{t.number}" for t in tickets)
            if tickets
            else "No valid entries: closed without a winner."
        ),
        data={
            "winning_indexes": indexes,
            "winning_numbers": [t.number for t in tickets],
            "seed": draw.seed,
        },
    )
    return draw
