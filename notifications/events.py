"""The business events that produce notifications, one function each. Other apps call these
inside their own transactions; this module decides which channels and payloads follow."""

from django.conf import settings

from .models import Notification
from .services import notification_enqueue

Kind = Notification.Kind
Channel = Notification.Channel


def _email_payload(subject: str, template: str, context: dict) -> dict:
    return {"subject": subject, "template": template, "context": context}


def winner_announced(winner) -> None:
    """Tell the winner (e-mail, SMS, Klaviyo) and the operators that a prize has been won."""
    user = winner.user
    context = {
        "winner_id": winner.pk,
        "competition": winner.competition.title,
        "competition_url": settings.SITE_URL + winner.competition.get_absolute_url(),
        "prize": winner.prize.title,
        "ticket_number": winner.ticket.number,
        "first_name": user.first_name,
    }
    key = f"winner-{winner.pk}"
    notification_enqueue(
        kind=Kind.WINNER_ANNOUNCED,
        channel=Channel.EMAIL,
        recipient=user.email,
        user=user,
        payload=_email_payload(f"You've won {winner.prize.title}!", "winner", context),
        idempotency_key=f"{key}-email",
    )
    notification_enqueue(
        kind=Kind.WINNER_ANNOUNCED,
        channel=Channel.KLAVIYO,
        recipient=user.email,
        user=user,
        payload=context,
        idempotency_key=f"{key}-klaviyo",
    )
    if user.phone:
        notification_enqueue(
            kind=Kind.WINNER_ANNOUNCED,
            channel=Channel.SMS,
            recipient=user.phone,
            user=user,
            payload={
                "body": f"Fairdraw: congratulations {user.first_name}! Ticket #{winner.ticket.number} "
                f"won {winner.prize.title}. We'll be in touch to arrange your prize."
            },
            idempotency_key=f"{key}-sms",
        )


def admin_alert(*, subject: str, message: str, key: str) -> None:
    """E-mail the operators (FAIRDRAW_ADMIN_EMAILS) once per key."""
    for _name, address in settings.ADMINS:
        notification_enqueue(
            kind=Kind.ADMIN_ALERT,
            channel=Channel.EMAIL,
            recipient=address,
            payload={
                "subject": subject,
                "template": "admin_alert",
                "context": {"message": message},
            },
            idempotency_key=f"admin-{key}-{address}",
        )
