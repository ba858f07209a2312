"""What a customer sees of their own activity on /account/.

Each read is a fixed number of queries however many tickets, orders or competitions the
customer has: tickets come with their competitions in one query and are grouped in Python.
"""

from dataclasses import dataclass, field
from itertools import groupby

from django.db.models import Prefetch, Q, QuerySet, prefetch_related_objects
from django.utils import timezone

from competitions.lifecycle import Status
from competitions.models import Competition, CompetitionImage
from tickets.models import Order, OrderLine, Ticket
from tickets.selectors import receipt_references_by_competition
from winners.models import Winner

# How the dashboard names each ticket status (any other, e.g. one held while awaiting
# payment, uses its own display label), and why a ticket is not in the draw.
TICKET_STATUS_LABELS = {
    Ticket.Status.ACTIVE: "In the draw",
    Ticket.Status.INVALID: "Invalid",
    Ticket.Status.REFUNDED: "Refunded",
}
TICKET_STATUS_NOTES = {
    Ticket.Status.INVALID: "wrong answer to the skill question — not entered in the draw",
}
# In the draw first, then held for payment, then what is out of the draw.
STATUS_ORDER = {"active": 0, "reserved": 1, "invalid": 2, "refunded": 3}
RECENT_ORDERS = 50


@dataclass
class TicketGroup:
    """One competition's worth of a customer's tickets."""

    competition: Competition
    status: Status
    tickets: list[Ticket] = field(default_factory=list)
    winning_numbers: list[int] = field(default_factory=list)
    # (reference, kind) of the signed receipts covering these tickets
    receipts: list[tuple[str, str]] = field(default_factory=list)
    instant_wins: list[Ticket] = field(default_factory=list)  # each with .instant_prize

    @property
    def in_draw(self) -> int:
        return sum(1 for t in self.tickets if t.status == Ticket.Status.ACTIVE)

    @property
    def by_status(self) -> list[dict]:
        """The numbers split by status: those in the draw first, then anything else."""
        split: dict[str, list[Ticket]] = {}
        for ticket in self.tickets:
            split.setdefault(ticket.status, []).append(ticket)
        order = sorted(split, key=lambda s: (STATUS_ORDER.get(s, len(STATUS_ORDER)), s))
        return [
            {
                "status": status,
                "label": TICKET_STATUS_LABELS.get(status) or split[status][0].get_status_display(),
                "note": TICKET_STATUS_NOTES.get(status, ""),
                "tickets": split[status],
            }
            for status in order
        ]

    @property
    def won(self) -> bool:
        numbers = set(self.winning_numbers)
        return any(t.number in numbers for t in self.tickets if t.status == Ticket.Status.ACTIVE)


def user_ticket_groups(user, now=None) -> list[TicketGroup]:
    """The customer's tickets grouped by competition, the latest-closing competition first.

    At most four queries: tickets with their competitions, those competitions' images, the
    winning numbers of the ones already drawn with the customer's instant wins, and the
    customer's signed receipts."""
    now = now or timezone.now()
    tickets = (
        Ticket.objects.filter(user=user)
        .select_related("competition")
        .order_by("-competition__ends_at", "competition_id", "number")
    )
    groups = []
    competitions = []
    for _, rows in groupby(tickets, key=lambda t: t.competition_id):
        rows = list(rows)
        competition = rows[0].competition
        competitions.append(competition)
        for ticket in rows:
            ticket.competition = competition  # one object per competition, not per ticket
        groups.append(TicketGroup(competition, competition.live_status(now), rows))
    if not groups:
        return groups

    prefetch_related_objects(
        competitions,
        Prefetch("images", queryset=CompetitionImage.objects.order_by("position", "id")),
    )
    drawn = [c.pk for c in competitions if c.status == Status.DRAWN]
    winning: dict[int, list[int]] = {}
    instant: dict[int, str] = {}  # ticket id -> instant prize won by it
    # The draws' winning numbers and the customer's own instant wins, in one query.
    for competition_id, number, ticket_id, instant_win_id, title in (
        Winner.objects.filter(
            Q(competition_id__in=drawn, instant_win__isnull=True)
            | Q(user=user, instant_win__isnull=False)
        )
        .exclude(verification_status="rejected")  # a disqualified winner's prize was redrawn
        .order_by("competition_id", "prize__position", "id")
        .values_list(
            "competition_id", "ticket__number", "ticket_id", "instant_win_id", "prize__title"
        )
    ):
        if instant_win_id is None:
            winning.setdefault(competition_id, []).append(number)
        else:
            instant[ticket_id] = title
    receipts = receipt_references_by_competition(user)
    for group in groups:
        group.winning_numbers = winning.get(group.competition.pk, [])
        group.receipts = receipts.get(group.competition.pk, [])
        for ticket in group.tickets:
            ticket.instant_prize = instant.get(ticket.pk, "")
            if ticket.instant_prize:
                group.instant_wins.append(ticket)
    return groups


def user_orders(user, limit: int = RECENT_ORDERS) -> QuerySet[Order]:
    """The customer's most recent orders, newest first, with what each was for."""
    return (
        Order.objects.filter(user=user)
        .select_related("receipt")
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.select_related("competition"))
        )
        .order_by("-created_at", "-id")[:limit]
    )


def user_wins(user) -> QuerySet[Winner]:
    """Every prize the customer has won, published or still being verified."""
    return (
        Winner.objects.filter(user=user)
        .select_related("competition", "prize", "ticket")
        .order_by("-created_at", "-id")
    )
