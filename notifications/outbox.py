"""The outbox's public face: what a domain needs to write its own messages.

Each domain builds its messages in its own `events.py` (tickets: orders and refunds,
winners: wins and deliveries, complaints, draws, accounts: marketing consent, ...) from the
pieces here, and queues them with `enqueue` inside the transaction of the change that causes
them; they are sent after commit (see services.py). This module knows channels and payload
shapes, never a domain: it reads what it needs from the user instance it is given (e-mail,
name, phone, marketing consent) and imports no app above core.

Consent: transactional messages (e-mails and texts) always go out. Klaviyo is the marketing
system, so `klaviyo_message` builds nothing for a customer without marketing consent (and the
sender checks consent again at send time). Payloads are plain JSON, built now, so the outbox
shows exactly what was sent.
"""

import logging
from collections.abc import Iterable
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import dateformat, timezone

from core.phones import phone_to_e164

from .models import Notification
from .services import notification_enqueue_many, notification_insert_sql, notifications_added

logger = logging.getLogger(__name__)

Kind = Notification.Kind
Channel = Notification.Channel

CURRENCY_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


# --- how messages write links, money and times ---------------------------------------------


def absolute_url(path: str) -> str:
    """A link a message can carry: the site's address in front of a path."""
    return path if "://" in path else settings.SITE_URL + path


def money(amount, currency: str | None = None) -> str:
    """An amount as customers read it: '£1,234.50'."""
    currency = currency or settings.FAIRDRAW_CURRENCY
    return f"{CURRENCY_SYMBOLS.get(currency, currency + ' ')}{Decimal(amount):,.2f}"


def local_time(moment) -> str:
    """A time as customers read it, in the site's time zone: 'Friday 5 December 2025, 20:00'."""
    return dateformat.format(timezone.localtime(moment), "l j F Y, H:i") if moment else ""


# --- messages (unsaved outbox rows; None: nothing to send on that channel) -----------------


def email_message(
    *, kind, recipient: str, subject: str, template: str, context: dict, key: str, user=None
) -> Notification:
    """An e-mail rendered at send time from templates/notifications/email/<template>.txt
    (and .html when present) with `context`."""
    return Notification(
        kind=kind,
        channel=Channel.EMAIL,
        recipient=recipient,
        user=user,
        payload={"subject": subject, "template": template, "context": context},
        idempotency_key=key,
    )


def sms_message(*, kind, user, body: str, key: str) -> Notification | None:
    """A text when the customer gave a phone number; an invalid one fails at send time,
    visibly in the outbox, without reaching the provider."""
    if not user.phone:
        return None
    return Notification(
        kind=kind,
        channel=Channel.SMS,
        recipient=user.phone,
        user=user,
        payload={"body": body},
        idempotency_key=key,
    )


def klaviyo_message(
    *, kind, user, metric: str, properties: dict, value, time, key: str
) -> Notification | None:
    """A Klaviyo event, only for a customer who agreed to marketing."""
    if not user.marketing_consent:
        return None
    return Notification(
        kind=kind,
        channel=Channel.KLAVIYO,
        recipient=user.email,
        user=user,
        payload={
            "metric": metric,
            "profile": klaviyo_profile(user),
            "properties": properties,
            "value": float(value) if value is not None else None,
            "value_currency": settings.FAIRDRAW_CURRENCY,
            "time": (time or timezone.now()).isoformat(),
            "unique_id": key,
        },
        idempotency_key=key,
    )


def profile_message(*, user, subscribed: bool, key: str) -> Notification:
    """Klaviyo's profile of the customer and their marketing subscription. Sent whatever the
    consent (it is how a withdrawal reaches Klaviyo); the sender puts the consent as it is at
    send time in place of `subscribed`."""
    return Notification(
        kind=Kind.PROFILE_UPDATED,
        channel=Channel.KLAVIYO,
        recipient=user.email,
        user=user,
        payload={"profile": klaviyo_profile(user), "subscribed": subscribed},
        idempotency_key=key,
    )


def klaviyo_profile(user) -> dict:
    """How Klaviyo identifies the customer; a phone number only when it is valid E.164 (Klaviyo
    rejects the whole event otherwise)."""
    profile = {
        "email": user.email,
        "external_id": str(user.pk),
        "first_name": user.first_name,
        "last_name": user.last_name,
    }
    try:
        phone = phone_to_e164(user.phone) if user.phone else None
    except ValidationError:
        phone = None
    if phone:
        profile["phone_number"] = phone
    return profile


def enqueue(messages: Iterable[Notification | None]) -> None:
    """Queue the messages built (None: nothing to send on that channel), in one statement,
    in the caller's transaction; they are sent after it commits."""
    notification_enqueue_many([m for m in messages if m is not None])


def enqueue_sql(messages: Iterable[Notification | None], *, when: str) -> tuple[str, list]:
    """`enqueue` as an INSERT for the WITH clause of the caller's own statement, written only
    if `when` holds; give what it RETURNs (id, key) to `enqueued`."""
    return notification_insert_sql([m for m in messages if m is not None], when=when)


def enqueued(messages: Iterable[Notification | None], added: dict[str, int]) -> None:
    """The messages `enqueue_sql` wrote ({key: id}): sent once the caller's transaction
    commits."""
    notifications_added([m for m in messages if m is not None], added)


# --- operators ------------------------------------------------------------------------------


def admin_alert(*, subject: str, message: str, key: str) -> None:
    """E-mail the operators (FAIRDRAW_ADMIN_EMAILS) once per key."""
    if not settings.ADMINS:
        logger.warning("Admin alert with no FAIRDRAW_ADMIN_EMAILS to send it to: %s", subject)
    enqueue(
        email_message(
            kind=Kind.ADMIN_ALERT,
            recipient=address,
            subject=f"[{settings.SITE_NAME}] {subject}",
            template="admin_alert",
            context={"message": message},
            key=f"admin-{key}-{address}",
        )
        for _name, address in settings.ADMINS
    )
