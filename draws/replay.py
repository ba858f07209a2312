"""The data behind "Watch the draw": a replay of a recorded draw, never a new one.

The replay shows a strip of the real entry ledger (valid ticket numbers in ascending order,
the list the draw selected from) around each winning position and lands on the number the
draw chose. Everything comes from the draw's published data: entry count, ledger index and
winning number. Nothing is random, so every viewer sees the same replay, and a manual
winner entry has no replay at all: it was not a random draw and must not look like one.
"""

from draws.models import Draw
from draws.selectors import ledger_tickets

# How much of the ledger the reel shows either side of a winning position.
REEL_BEFORE = 40
REEL_AFTER = 3


def latest_draw(competition) -> Draw | None:
    return (
        Draw.objects.filter(competition=competition)
        .select_related("winning_ticket")
        .order_by("-performed_at", "-id")
        .first()
    )


def draw_replay(draw: Draw | None) -> dict | None:
    """The replay script for a completed random draw, or None when there is nothing to replay.

    One query for the winners and one per draw prize for its strip of the ledger."""
    if draw is None or draw.status != Draw.Status.COMPLETED or draw.mode == Draw.Mode.MANUAL:
        return None
    winners = draw.winners.select_related("ticket", "prize").order_by("prize__position", "id")
    prizes = []
    for winner in winners:
        index = winner.ledger_index
        if index is None:
            continue
        start = max(0, index - REEL_BEFORE)
        stop = min(draw.entry_count, index + REEL_AFTER + 1)
        numbers = list(
            ledger_tickets(draw.competition_id).values_list("number", flat=True)[start:stop]
        )
        reel = [{"index": start + i, "number": n} for i, n in enumerate(numbers)]
        if index - start >= len(reel) or reel[index - start]["number"] != winner.ticket.number:
            # The ledger no longer matches the recorded draw: show the recorded result only.
            reel = [{"index": index, "number": winner.ticket.number}]
        prizes.append(
            {
                "position": winner.prize.position,
                "title": winner.prize.title,
                "winningIndex": index,
                "winningNumber": winner.ticket.number,
                "reel": reel,
            }
        )
    if not prizes:
        return None
    return {
        "entryCount": draw.entry_count,
        "ledgerHash": draw.ledger_hash,
        "prizes": prizes,
    }
