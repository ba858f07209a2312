"""What winners hear: the win itself (when the draw picks them), the announcement staff write,
and the delivery of the prize.

Called inside the transaction that makes the change, so the outbox rows commit or roll back
with it (see notifications.outbox). E-mails and texts always go; Klaviyo needs consent."""

from django.utils import timezone

from competitions.events import competition_properties
from notifications.models import Notification
from notifications.outbox import (
    absolute_url,
    email_message,
    enqueue,
    klaviyo_message,
    local_time,
    money,
    sms_message,
)

Kind = Notification.Kind


def winner_announced(winner) -> None:
    """Tell the winner (e-mail and SMS always, Klaviyo with consent) that a prize was won."""
    user = winner.user
    _tell_winner(
        winner,
        subject=f"You've won {winner.prize.title}!",
        template="winner",
        metric="Winner Announced",
        time=winner.announced_at or winner.created_at,
        sms=f"Fairdraw: congratulations {user.first_name}! Ticket #{winner.ticket.number} won "
        f"{winner.prize.title}. We'll be in touch to arrange your prize.",
    )


def instant_win_announced(winner) -> None:
    """Tell a customer at once that their ticket holds an instant win (e-mail and SMS always,
    Klaviyo with consent), in the transaction of the sale that won it."""
    user = winner.user
    _tell_winner(
        winner,
        subject=f"Instant win! You've won {winner.prize.title}",
        template="instant_win",
        metric="Instant Win",
        time=winner.created_at,
        sms=f"Fairdraw: instant win, {user.first_name}! Ticket #{winner.ticket.number} in "
        f"{winner.competition.title} won {winner.prize.title}. We'll be in touch to arrange "
        "your prize.",
    )


def instant_win_voided(winner, *, reason: str) -> None:
    """Tell a customer that their instant win is void because its ticket was refunded (e-mail
    and SMS, as the win itself was told), in the refund's transaction. Once per winner."""
    user = winner.user
    key = f"winner-{winner.pk}-void"
    enqueue(
        [
            email_message(
                kind=Kind.ORDER_REFUNDED,
                recipient=user.email,
                user=user,
                subject=f"Your instant win of {winner.prize.title} is void",
                template="instant_win_void",
                context={**_context(winner), "reason": reason},
                key=f"{key}-email",
            ),
            sms_message(
                kind=Kind.ORDER_REFUNDED,
                user=user,
                body=f"Fairdraw: ticket #{winner.ticket.number} in {winner.competition.title} "
                f"was refunded, so its instant win ({winner.prize.title}) is void. Details by "
                "e-mail.",
                key=f"{key}-sms",
            ),
        ]
    )


def _tell_winner(winner, *, subject: str, template: str, metric: str, time, sms: str) -> None:
    """The winner's three messages (one per channel, keyed by the winner: queued once)."""
    user = winner.user
    key = f"winner-{winner.pk}"
    enqueue(
        [
            email_message(
                kind=Kind.WINNER_ANNOUNCED,
                recipient=user.email,
                user=user,
                subject=subject,
                template=template,
                context=_context(winner),
                key=f"{key}-email",
            ),
            klaviyo_message(
                kind=Kind.WINNER_ANNOUNCED,
                user=user,
                metric=metric,
                properties=_properties(winner),
                value=winner.prize.value,
                time=time,
                key=f"{key}-klaviyo",
            ),
            sms_message(kind=Kind.WINNER_ANNOUNCED, user=user, body=sms, key=f"{key}-sms"),
        ]
    )


def winner_announcement(winner) -> None:
    """Send the staff-written announcement (winner.announcement) to the winner by e-mail and
    SMS. Each announcement (told apart by winner.announced_at) is its own message, so staff
    may correct the text and send again."""
    user = winner.user
    stamp = int((winner.announced_at or timezone.now()).timestamp() * 1000)
    key = f"winner-{winner.pk}-announcement-{stamp}"
    enqueue(
        [
            email_message(
                kind=Kind.WINNER_ANNOUNCED,
                recipient=user.email,
                user=user,
                subject=f"Your win: {winner.prize.title}",
                template="winner_announcement",
                context={**_context(winner), "announcement": winner.announcement},
                key=f"{key}-email",
            ),
            sms_message(
                kind=Kind.WINNER_ANNOUNCED,
                user=user,
                body=f"Fairdraw: {winner.announcement.strip()[:300]}",
                key=f"{key}-sms",
            ),
        ]
    )


def prize_delivered(winner) -> None:
    """The prize reached its winner: e-mail (always), Klaviyo "Prize Delivered" (consent)."""
    user = winner.user
    key = f"prize-delivered-{winner.pk}"
    enqueue(
        [
            email_message(
                kind=Kind.PRIZE_DELIVERED,
                recipient=user.email,
                user=user,
                subject=f"Your prize has been delivered: {winner.prize.title}",
                template="prize_delivered",
                context={
                    **_context(winner),
                    "delivered_at": local_time(winner.prize_delivered_at),
                },
                key=f"{key}-email",
            ),
            klaviyo_message(
                kind=Kind.PRIZE_DELIVERED,
                user=user,
                metric="Prize Delivered",
                properties={
                    **_properties(winner),
                    "DeliveredAt": (winner.prize_delivered_at or timezone.now()).isoformat(),
                },
                value=winner.prize.value,
                time=winner.prize_delivered_at,
                key=f"{key}-klaviyo",
            ),
        ]
    )


def _context(winner) -> dict:
    competition = winner.competition
    return {
        "winner_id": winner.pk,
        "competition": competition.title,
        "competition_url": absolute_url(competition.get_absolute_url()),
        "draw_url": absolute_url(f"/competitions/{competition.slug}/draw/"),
        "prize": winner.prize.title,
        "prize_value": money(winner.prize.value),
        "ticket_number": winner.ticket.number,
        "first_name": winner.user.first_name,
    }


def _properties(winner) -> dict:
    return {
        **competition_properties(winner.competition),
        "PrizeName": winner.prize.title,
        "PrizeValue": float(winner.prize.value),
        "TicketNumber": winner.ticket.number,
        "DrawURL": absolute_url(f"/competitions/{winner.competition.slug}/draw/"),
        "ChampionsURL": absolute_url("/champions/"),
    }
