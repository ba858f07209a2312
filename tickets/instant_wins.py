"""Awarding instant wins when a sale holds one of their numbers (docs/architecture.md §4, item 6).

`instant_wins_award` runs inside the sale's transaction, once its tickets are active and before
the competition's counters move (the hot row is touched last; nothing here reads or locks it).
It is one statement: a compare-and-set that marks won the instant-win numbers this sale's
active tickets hold, joined on the (competition, number) unique index, returning what it
marked. A number marked once is never marked again (`won_at IS NULL`), and a winner refers to
its number one-to-one, so a repeated webhook or a racing payment never awards twice. A sale in a
competition without instant wins costs nothing: the competition's commitment is empty.

A refund voids the win of a refunded ticket in the refund's transaction
(`instant_wins_refunded`): the winners app marks its winner rejected and the number's win
void (`InstantWin.voided_at`), and tells the customer. The number stays won, so a later buyer
of it wins nothing and the prize is not awarded again: the number was published as won, and
reopening it would give the prize to whoever picks that number next.

A prize may already have gone out when its ticket is refunded: the refund still goes ahead (it
is the customer's money), but staff are told per number first and the refund's audit entry
records it (`instant_prizes_delivered`, `prize_delivered_warning`), as someone has to recover
the prize.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.utils import timezone

from competitions.models import Competition, InstantWin

from .models import Ticket
from .signals import instant_win_prizes_delivered, instant_win_tickets_refunded, instant_wins_won


@dataclass(frozen=True)
class PrizeDelivered:
    """An instant prize the winners app marked delivered to its winner."""

    instant_win_id: int
    winner_name: str  # as the winner is shown, e.g. "Jane S."
    delivered_at: datetime


def instant_wins_award(
    *,
    competitions: Iterable[Competition],
    now,
    order_id: int | None = None,
    ticket_ids: Sequence[int] = (),
    status: str = Ticket.Status.ACTIVE,
) -> list[tuple[InstantWin, Ticket]]:
    """Mark won the instant-win numbers held by the active tickets of `order_id` (a payment) or
    `ticket_ids` (postal entries) in `competitions`, tell winners about each (the
    `instant_wins_won` hook), and return the wins. Invalid tickets (a wrong answer) are not
    entered, so they win nothing.

    `status`: the tickets' status now. A payment's usual path awards just before the statement
    that turns its reserved tickets active and carries the COMMIT (rules.paid_tickets_claim):
    it passes RESERVED and only the competitions whose line answered correctly; if that claim
    is refused, the award rolls back with everything else."""
    competitions = [c for c in competitions if c.instant_wins_commitment]
    if not competitions or (order_id is None and not ticket_ids):
        return []
    if order_id is not None:
        which, params = "t.order_id = %s", [order_id]
    else:
        which, params = f"t.id IN ({', '.join(['%s'] * len(ticket_ids))})", list(ticket_ids)
    ids = [c.pk for c in competitions]
    which += f" AND t.competition_id IN ({', '.join(['%s'] * len(ids))})"
    params += ids
    instant_table = InstantWin._meta.db_table
    ticket_table = Ticket._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {instant_table} SET won_at = %s "
            f"WHERE won_at IS NULL AND id IN ("
            f"  SELECT iw.id FROM {instant_table} iw JOIN {ticket_table} t"
            f"    ON t.competition_id = iw.competition_id AND t.number = iw.number"
            f"  WHERE {which} AND t.status = %s"
            f") RETURNING id, number, competition_id",
            [now, *params, status],
        )
        won = cursor.fetchall()
    if not won:
        return []
    instant = InstantWin.objects.select_related("prize", "competition").in_bulk(
        [row[0] for row in won]
    )
    tickets = {
        (t.competition_id, t.number): t
        for t in Ticket.objects.select_related("user").filter(
            status=status,
            competition_id__in={row[2] for row in won},
            number__in={row[1] for row in won},
        )
    }
    wins = [(instant[pk], tickets[(competition_id, number)]) for pk, number, competition_id in won]
    wins.sort(key=lambda win: (win[0].competition_id, win[0].number))
    instant_wins_won.send(sender=InstantWin, wins=wins, now=now)
    return wins


def instant_wins_refunded(
    *, tickets: Iterable[Ticket], competitions: Iterable[Competition], reason: str, by, now
) -> list[InstantWin]:
    """Void the instant wins held by these just-refunded tickets (in the refund's transaction:
    the `instant_win_tickets_refunded` hook, which the winners app answers). `competitions`:
    the tickets' competitions, so that one without instant wins costs no query. Returns the
    instant wins voided."""
    with_instant = {c.pk for c in competitions if c.instant_wins_commitment}
    ticket_ids = [t.pk for t in tickets if t.competition_id in with_instant]
    if not ticket_ids:
        return []
    responses = instant_win_tickets_refunded.send(
        sender=Ticket, ticket_ids=ticket_ids, reason=reason, by=by, now=now
    )
    return [instant_win for _receiver, voided in responses for instant_win in (voided or [])]


def instant_wins_held(tickets: Sequence[Ticket]) -> dict[int, InstantWin]:
    """The won instant-win numbers these tickets (with their competitions) hold, by ticket id
    (one query, none without instant wins): for showing a customer their win. Only active
    tickets win, and a win voided by a refund is nobody's (a later buyer of the number holds
    no win). Also what refunding these tickets would void, for staff to see first."""
    active = [
        t
        for t in tickets
        if t.status == Ticket.Status.ACTIVE and t.competition.instant_wins_commitment
    ]
    if not active:
        return {}
    won = {
        (w.competition_id, w.number): w
        for w in InstantWin.objects.filter(
            competition_id__in={t.competition_id for t in active},
            number__in={t.number for t in active},
            won_at__isnull=False,
            voided_at__isnull=True,
        ).select_related("prize")
    }
    return {
        t.pk: won[(t.competition_id, t.number)]
        for t in active
        if (t.competition_id, t.number) in won
    }


def instant_prizes_delivered(instant_wins: Iterable[InstantWin]) -> dict[int, PrizeDelivered]:
    """Which of these won instant wins had their prize delivered already, by instant-win id
    (asked of the winners app through the `instant_win_prizes_delivered` hook; no query for
    none)."""
    ids = [w.pk for w in instant_wins]
    if not ids:
        return {}
    delivered = {}
    for _receiver, answer in instant_win_prizes_delivered.send(
        sender=InstantWin, instant_win_ids=ids
    ):
        delivered.update(answer or {})
    return delivered


def prize_delivered_warning(
    *, ticket_number: int, prize_title: str, competition, delivered: PrizeDelivered
) -> str:
    """What staff read, on the confirmation page and in the audit log, when refunding a ticket
    whose instant prize already went out."""
    return (
        f"Ticket #{ticket_number}'s instant prize ({prize_title}) in {competition} was already "
        f"{delivered_to(delivered.winner_name, delivered.delivered_at)}: refunding voids the win, "
        "recover the prize separately."
    )


def delivered_to(winner_name: str, at: datetime) -> str:
    """'delivered to Jane S. on 3 Nov 2026': how staff read where and when a prize went out."""
    on = timezone.localtime(at)
    return f"delivered to {winner_name} on {on.day} {on:%b %Y}"
