"""The business events that produce notifications, one function each. Other apps call these
inside their own transactions; this module decides which channels and payloads follow.

Consent: transactional messages (order confirmation, refund, winner and delivery e-mails and
texts) always go out. Klaviyo is the marketing system, so every Klaviyo event needs the
customer's marketing consent; `profile_updated` tells Klaviyo when consent is given or
withdrawn. Payloads are plain JSON, built now, so the outbox shows exactly what was sent.
"""

import hashlib
import logging
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import dateformat, timezone

from .models import Notification
from .services import notification_enqueue, notification_enqueue_many

logger = logging.getLogger(__name__)

Kind = Notification.Kind
Channel = Notification.Channel

CURRENCY_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


# --- helpers --------------------------------------------------------------------------------


def _email_payload(subject: str, template: str, context: dict) -> dict:
    return {"subject": subject, "template": template, "context": context}


def _url(path: str) -> str:
    return path if "://" in path else settings.SITE_URL + path


def _money(amount, currency: str | None = None) -> str:
    currency = currency or settings.FAIRDRAW_CURRENCY
    return f"{CURRENCY_SYMBOLS.get(currency, currency + ' ')}{Decimal(amount):,.2f}"


def _when(moment) -> str:
    """A time as customers read it, in the site's time zone: 'Friday 5 December 2025, 20:00'."""
    return dateformat.format(timezone.localtime(moment), "l j F Y, H:i") if moment else ""


def _image_url(competition) -> str:
    image = competition.images.order_by("position").first()
    return _url(image.image.url) if image and image.image else ""


def _image_urls(competitions) -> dict[int, str]:
    """`_image_url` of several competitions in one query."""
    from competitions.models import CompetitionImage

    urls: dict[int, str] = {}
    images = CompetitionImage.objects.filter(competition__in=[c.pk for c in competitions])
    for image in images.order_by("competition_id", "position", "pk"):
        urls.setdefault(image.competition_id, _url(image.image.url) if image.image else "")
    return urls


def _e164_or_none(phone: str) -> str | None:
    from accounts.services import phone_to_e164  # accounts may one day call these events

    try:
        return phone_to_e164(phone) if phone else None
    except ValidationError:
        return None


def _profile(user) -> dict:
    """How Klaviyo identifies the customer; a phone number only when it is valid E.164 (Klaviyo
    rejects the whole event otherwise)."""
    profile = {
        "email": user.email,
        "external_id": str(user.pk),
        "first_name": user.first_name,
        "last_name": user.last_name,
    }
    phone = _e164_or_none(user.phone)
    if phone:
        profile["phone_number"] = phone
    return profile


def _klaviyo_message(*, kind, user, metric: str, properties: dict, value, time, key: str):
    """A Klaviyo event (an unsaved outbox row), only for a customer who agreed to marketing."""
    if not user.marketing_consent:
        return None
    return Notification(
        kind=kind,
        channel=Channel.KLAVIYO,
        recipient=user.email,
        user=user,
        payload={
            "metric": metric,
            "profile": _profile(user),
            "properties": properties,
            "value": float(value) if value is not None else None,
            "value_currency": settings.FAIRDRAW_CURRENCY,
            "time": (time or timezone.now()).isoformat(),
            "unique_id": key,
        },
        idempotency_key=key,
    )


def _klaviyo_event(**message) -> None:
    """Queue a Klaviyo event, only for a customer who agreed to marketing."""
    _enqueue([_klaviyo_message(**message)])


def _enqueue(messages) -> None:
    """Queue the messages built (None: nothing to send on that channel), in one statement."""
    notification_enqueue_many([m for m in messages if m is not None])


def _competition_properties(competition, image_url: str | None = None) -> dict:
    return {
        "CompetitionID": competition.pk,
        "CompetitionName": competition.title,
        "CompetitionURL": _url(competition.get_absolute_url()),
        "ImageURL": _image_url(competition) if image_url is None else image_url,
        "PrizeValue": float(competition.prize_value),
        "TicketPrice": float(competition.ticket_price),
        "EndsAt": competition.ends_at.isoformat(),
        "DrawAt": competition.draw_at.isoformat(),
    }


def _order_lines(order, lines=None) -> list[tuple]:
    """(line, ticket numbers) for each line of an order, the numbers in one query. `lines`:
    the order's lines with their competitions and answers, if the caller has them."""
    if lines is None:
        lines = order.lines.select_related("competition", "answer").order_by("pk")
    numbers: dict[int, list[int]] = {}
    tickets = order.tickets.exclude(status="refunded").order_by("number")
    for competition_id, number in tickets.values_list("competition_id", "number"):
        numbers.setdefault(competition_id, []).append(number)
    return [(line, numbers.get(line.competition_id, [])) for line in lines]


def _order_items(order_lines) -> list[dict]:
    images = _image_urls([line.competition for line, _ in order_lines])
    return [
        _order_item(line, numbers, images.get(line.competition_id, ""))
        for line, numbers in order_lines
    ]


def _order_item(line, numbers: list[int], image_url: str) -> dict:
    """An order line in Klaviyo's e-commerce vocabulary, plus our ticket numbers."""
    competition = line.competition
    return {
        "ProductID": competition.pk,
        "ProductName": competition.title,
        "ProductURL": _url(competition.get_absolute_url()),
        "ImageURL": image_url,
        "Quantity": line.quantity,
        "ItemPrice": float(line.unit_price),
        "RowTotal": float(line.line_total),
        "TicketNumbers": numbers,
        "AnsweredCorrectly": line.answer.is_correct,
        "DrawAt": competition.draw_at.isoformat(),
    }


def _sms_message(*, kind, user, body: str, key: str):
    """A text (an unsaved outbox row) when the customer gave a phone number; an invalid one
    fails at send time, visibly in the outbox, without reaching the provider."""
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


def _sms(**message) -> None:
    """Queue a text when the customer gave a phone number (see `_sms_message`)."""
    _enqueue([_sms_message(**message)])


def _winner_context(winner) -> dict:
    competition = winner.competition
    return {
        "winner_id": winner.pk,
        "competition": competition.title,
        "competition_url": _url(competition.get_absolute_url()),
        "draw_url": _url(f"/competitions/{competition.slug}/draw/"),
        "prize": winner.prize.title,
        "prize_value": _money(winner.prize.value),
        "ticket_number": winner.ticket.number,
        "first_name": winner.user.first_name,
    }


def _winner_properties(winner) -> dict:
    return {
        **_competition_properties(winner.competition),
        "PrizeName": winner.prize.title,
        "PrizeValue": float(winner.prize.value),
        "TicketNumber": winner.ticket.number,
        "DrawURL": _url(f"/competitions/{winner.competition.slug}/draw/"),
        "ChampionsURL": _url("/champions/"),
    }


# --- customers ------------------------------------------------------------------------------


def checkout_started(order, *, lines=None) -> None:
    """Klaviyo "Checkout Started" (marketing: abandoned-checkout flows) when numbers are held.
    `lines`: the order's lines with their competitions and answers, if the caller has them."""
    if not order.user.marketing_consent:
        return  # Klaviyo only: nothing to build (the checkout holds the sale's lock meanwhile)
    items = _order_items(_order_lines(order, lines))
    _klaviyo_event(
        kind=Kind.CHECKOUT_STARTED,
        user=order.user,
        metric="Checkout Started",
        properties={
            "OrderID": order.reference,
            "CheckoutURL": _url("/checkout/"),
            "CartURL": _url("/cart/"),
            "ItemNames": [item["ProductName"] for item in items],
            "Items": items,
            "TicketCount": sum(item["Quantity"] for item in items),
            "ReservedUntil": order.reserved_until.isoformat() if order.reserved_until else None,
        },
        value=order.total,
        time=order.created_at,
        key=f"checkout-started-{order.pk}",
    )


def order_placed(order) -> None:
    """A paid order: confirmation e-mail and text (always), Klaviyo "Order Placed" and one
    "Competition Entered" per line (with consent)."""
    _enqueue(order_placed_messages(order))


def order_placed_messages(order, *, lines=None) -> list[Notification]:
    """The messages of `order_placed`, built but not queued (pass them to
    notification_enqueue_many in the transaction that marks the order paid). `lines`: the
    order's lines with their competitions and answers, if the caller has them."""
    user = order.user
    key = f"order-placed-{order.pk}"
    order_lines = _order_lines(order, lines)
    lines = [
        {
            "competition": line.competition.title,
            "competition_url": _url(line.competition.get_absolute_url()),
            "quantity": line.quantity,
            "unit_price": _money(line.unit_price, order.currency),
            "line_total": _money(line.line_total, order.currency),
            "ticket_numbers": numbers,
            "answered_correctly": line.answer.is_correct,
            "draw_at": _when(line.competition.draw_at),
        }
        for line, numbers in order_lines
    ]
    email = Notification(
        kind=Kind.ORDER_PLACED,
        channel=Channel.EMAIL,
        recipient=user.email,
        user=user,
        payload=_email_payload(
            f"Your Fairdraw order {order.reference} is confirmed",
            "order_placed",
            {
                "first_name": user.first_name,
                "order_reference": order.reference,
                "order_url": _url("/account/"),
                "total": _money(order.total, order.currency),
                "lines": lines,
            },
        ),
        idempotency_key=f"{key}-email",
    )
    if not (user.phone or user.marketing_consent):
        return [email]  # no text, no Klaviyo: nothing more to build
    items = _order_items(order_lines)
    images = {item["ProductID"]: item["ImageURL"] for item in items}
    summary = "; ".join(
        f"{item['ProductName']} #{', #'.join(map(str, item['TicketNumbers']))}"
        if 0 < len(item["TicketNumbers"]) <= 5
        else f"{item['Quantity']} tickets in {item['ProductName']}"
        for item in items
    )
    messages = [
        email,
        _sms_message(
            kind=Kind.ORDER_PLACED,
            user=user,
            body=f"Fairdraw: thanks {user.first_name}! Order {order.reference} confirmed: "
            f"{summary}. Good luck! {_url('/account/')}",
            key=f"{key}-sms",
        ),
        _klaviyo_message(
            kind=Kind.ORDER_PLACED,
            user=user,
            metric="Order Placed",
            properties={
                "OrderID": order.reference,
                "OrderURL": _url("/account/"),
                "ItemNames": [item["ProductName"] for item in items],
                "Items": items,
                "TicketCount": sum(len(item["TicketNumbers"]) for item in items),
            },
            value=order.total,
            time=order.paid_at,
            key=f"{key}-klaviyo",
        ),
    ]
    for line, numbers in order_lines:
        messages.append(
            _klaviyo_message(
                kind=Kind.COMPETITION_ENTERED,
                user=user,
                metric="Competition Entered",
                properties={
                    **_competition_properties(line.competition, images[line.competition_id]),
                    "OrderID": order.reference,
                    "TicketNumbers": numbers,
                    "TicketCount": len(numbers),
                    "AnsweredCorrectly": line.answer.is_correct,
                },
                value=line.line_total,
                time=order.paid_at,
                key=f"competition-entered-{order.pk}-{line.pk}",
            )
        )
    return [m for m in messages if m is not None]


def order_refunded(order, *, amount, reason: str, refund=None) -> None:
    """Tell the customer about a refund (e-mail). `reason` is shown to them, e.g.
    "The competition was cancelled." Each refund is its own message: pass the `refund` row when
    there is one, else the order's amounts tell successive refunds apart."""
    user = order.user
    which = f"r{refund.pk}" if refund is not None else f"{order.amount_refunded}-{amount}"
    notification_enqueue(
        kind=Kind.ORDER_REFUNDED,
        channel=Channel.EMAIL,
        recipient=user.email,
        user=user,
        payload=_email_payload(
            f"Refund of {_money(amount, order.currency)} for order {order.reference}",
            "order_refunded",
            {
                "first_name": user.first_name,
                "order_reference": order.reference,
                "amount": _money(amount, order.currency),
                "reason": reason,
                "order_url": _url("/account/"),
            },
        ),
        idempotency_key=f"order-refunded-{order.pk}-{which}",
    )


def winner_announced(winner) -> None:
    """Tell the winner (e-mail and SMS always, Klaviyo with consent) that a prize was won."""
    user = winner.user
    context = _winner_context(winner)
    key = f"winner-{winner.pk}"
    notification_enqueue(
        kind=Kind.WINNER_ANNOUNCED,
        channel=Channel.EMAIL,
        recipient=user.email,
        user=user,
        payload=_email_payload(f"You've won {winner.prize.title}!", "winner", context),
        idempotency_key=f"{key}-email",
    )
    _klaviyo_event(
        kind=Kind.WINNER_ANNOUNCED,
        user=user,
        metric="Winner Announced",
        properties=_winner_properties(winner),
        value=winner.prize.value,
        time=winner.announced_at or winner.created_at,
        key=f"{key}-klaviyo",
    )
    _sms(
        kind=Kind.WINNER_ANNOUNCED,
        user=user,
        body=f"Fairdraw: congratulations {user.first_name}! Ticket #{winner.ticket.number} "
        f"won {winner.prize.title}. We'll be in touch to arrange your prize.",
        key=f"{key}-sms",
    )


def winner_announcement(winner) -> None:
    """Send the staff-written announcement (winner.announcement) to the winner by e-mail and
    SMS. Each announcement (told apart by winner.announced_at) is its own message, so staff
    may correct the text and send again."""
    user = winner.user
    stamp = int((winner.announced_at or timezone.now()).timestamp() * 1000)
    key = f"winner-{winner.pk}-announcement-{stamp}"
    notification_enqueue(
        kind=Kind.WINNER_ANNOUNCED,
        channel=Channel.EMAIL,
        recipient=user.email,
        user=user,
        payload=_email_payload(
            f"Your win: {winner.prize.title}",
            "winner_announcement",
            {**_winner_context(winner), "announcement": winner.announcement},
        ),
        idempotency_key=f"{key}-email",
    )
    _sms(
        kind=Kind.WINNER_ANNOUNCED,
        user=user,
        body=f"Fairdraw: {winner.announcement.strip()[:300]}",
        key=f"{key}-sms",
    )


def prize_delivered(winner) -> None:
    """The prize reached its winner: e-mail (always), Klaviyo "Prize Delivered" (consent)."""
    user = winner.user
    key = f"prize-delivered-{winner.pk}"
    notification_enqueue(
        kind=Kind.PRIZE_DELIVERED,
        channel=Channel.EMAIL,
        recipient=user.email,
        user=user,
        payload=_email_payload(
            f"Your prize has been delivered: {winner.prize.title}",
            "prize_delivered",
            {**_winner_context(winner), "delivered_at": _when(winner.prize_delivered_at)},
        ),
        idempotency_key=f"{key}-email",
    )
    _klaviyo_event(
        kind=Kind.PRIZE_DELIVERED,
        user=user,
        metric="Prize Delivered",
        properties={
            **_winner_properties(winner),
            "DeliveredAt": (winner.prize_delivered_at or timezone.now()).isoformat(),
        },
        value=winner.prize.value,
        time=winner.prize_delivered_at,
        key=f"{key}-klaviyo",
    )


def profile_updated(user) -> None:
    """Bring the customer's Klaviyo profile and marketing consent in line with ours: subscribe
    when they consent, unsubscribe when they withdraw (or are excluded). Call it whenever
    marketing_consent changes, and at sign-up with consent."""
    subscribed = bool(user.marketing_consent)
    stamp = (user.marketing_consent_at or timezone.now()).isoformat()
    notification_enqueue(
        kind=Kind.PROFILE_UPDATED,
        channel=Channel.KLAVIYO,
        recipient=user.email,
        user=user,
        payload={"profile": _profile(user), "subscribed": subscribed},
        idempotency_key=f"profile-{user.pk}-{'subscribed' if subscribed else 'unsubscribed'}"
        f"-{stamp}",
    )


# --- complaints -----------------------------------------------------------------------------


def _complaint_context(complaint) -> dict:
    return {
        "name": complaint.name,
        "reference": complaint.reference,
        "category": complaint.get_category_display(),
        "complaint_url": _url(f"/account/complaints/{complaint.reference}/")
        if complaint.user_id
        else "",
    }


def complaint_received(complaint) -> None:
    """Acknowledge a complaint at once, with its reference and the target dates (e-mail,
    always: it is a service message). The customer's own text is not echoed back, so the
    public form can't be used to send someone else a message in our name."""
    notification_enqueue(
        kind=Kind.COMPLAINT,
        channel=Channel.EMAIL,
        recipient=complaint.email,
        user=complaint.user,
        payload=_email_payload(
            f"We’ve received your complaint ({complaint.reference})",
            "complaint_received",
            {
                **_complaint_context(complaint),
                "response_due": _when(complaint.response_due_at),
                "resolution_due": _when(complaint.resolution_due_at),
            },
        ),
        idempotency_key=f"complaint-{complaint.pk}-received",
    )


def complaint_message(complaint, event) -> None:
    """E-mail the customer a message staff sent on their complaint (`event`, a reply): a plain
    reply, our final response when it resolves the complaint, or news of its escalation."""
    # status_to is set only when this message moved the complaint on.
    subject = {
        "resolved": f"Our final response to your complaint ({complaint.reference})",
        "escalated": f"Your complaint has been escalated ({complaint.reference})",
    }.get(event.status_to, f"Reply to your complaint ({complaint.reference})")
    notification_enqueue(
        kind=Kind.COMPLAINT,
        channel=Channel.EMAIL,
        recipient=complaint.email,
        user=complaint.user,
        payload=_email_payload(
            subject,
            "complaint_message",
            {
                **_complaint_context(complaint),
                "message": event.message,
                "resolved": event.status_to == "resolved",
                "escalated": event.status_to == "escalated",
            },
        ),
        idempotency_key=f"complaint-{complaint.pk}-event-{event.pk}",
    )


# --- operators ------------------------------------------------------------------------------


def admin_alert(*, subject: str, message: str, key: str) -> None:
    """E-mail the operators (FAIRDRAW_ADMIN_EMAILS) once per key."""
    if not settings.ADMINS:
        logger.warning("Admin alert with no FAIRDRAW_ADMIN_EMAILS to send it to: %s", subject)
    for _name, address in settings.ADMINS:
        notification_enqueue(
            kind=Kind.ADMIN_ALERT,
            channel=Channel.EMAIL,
            recipient=address,
            payload={
                "subject": f"[{settings.SITE_NAME}] {subject}",
                "template": "admin_alert",
                "context": {"message": message},
            },
            idempotency_key=f"admin-{key}-{address}",
        )


def sold_out(competition) -> None:
    """Every ticket of a competition is sold (call it in the sale that sold the last one)."""
    admin_alert(
        subject=f"Sold out: {competition.title}",
        message=(
            f"All {competition.max_tickets} tickets of \u201c{competition.title}\u201d are sold. "
            f"Sales are closed; the draw is due {_when(competition.draw_at)}.\n"
            f"{_url(competition.get_absolute_url())}"
        ),
        key=f"sold-out-{competition.pk}",
    )


def draw_completed(draw) -> None:
    """A draw finished (call it in the draw's transaction)."""
    competition = draw.competition
    winners = list(draw.winners.select_related("prize", "ticket", "user"))
    lines = [
        f"- {w.prize.title}: ticket #{w.ticket.number} ({w.user.get_full_name()}, {w.user.email})"
        for w in winners
    ] or ["No valid entries, so nobody won. The competition is marked drawn with no winner."]
    admin_alert(
        subject=(
            f"Draw completed: {competition.title}"
            if winners
            else f"Closed without a winner: {competition.title}"
        ),
        message=(
            f"The draw for \u201c{competition.title}\u201d is done "
            f"({draw.get_mode_display() or 'draw'}, {draw.entry_count} entries).\n"
            + "\n".join(lines)
            + f"\n\nVerification: {_url(f'/competitions/{competition.slug}/draw/')}"
        ),
        key=f"draw-completed-{draw.pk}",
    )


def draw_failed(competition, *, error: str) -> None:
    """A draw attempt failed. Call it outside the failed draw's (rolled back) transaction; the
    same error for the same competition alerts once, however often the draw is retried."""
    digest = hashlib.sha256(str(error).encode()).hexdigest()[:16]
    admin_alert(
        subject=f"Draw failed: {competition.title}",
        message=(
            f"The draw for \u201c{competition.title}\u201d failed and nothing was saved:\n"
            f"{error}\n\nIt will be retried automatically when due; "
            f"`manage.py draw {competition.slug}` runs it by hand."
        ),
        key=f"draw-failed-{competition.pk}-{digest}",
    )
