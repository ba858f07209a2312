"""The moments customers and operators hear about from selling, and the messages each one
writes: checkout started, order placed (confirmation e-mail and text, Klaviyo "Order Placed"
and "Competition Entered"), refunds; a sale that sells a competition out tells operators.

Each function is called inside the transaction that makes the change, so the outbox rows
it writes (notifications.outbox) commit or roll back with it."""

from django.db.models import F

from competitions.events import competition_properties, image_urls, sold_out
from competitions.models import Competition
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


def order_reserved(order, *, lines=None) -> None:
    """Numbers are held and the customer is on their way to pay. `lines`: the order's lines
    with their competitions and answers, if the caller has them."""
    checkout_started(order, lines=lines)


def order_paid_messages(order, *, lines=None) -> list:
    """What `order_paid` will tell the customer, built ahead: a sale builds them before taking
    the competitions' locks, from a pending order (whose numbers are the ones it will issue)
    and its lines with their competitions and answers."""
    return order_placed_messages(order, lines=lines)


def order_paid(order, *, messages=None, competitions=None) -> None:
    """Payment confirmed and tickets issued: "Your tickets" with the numbers; operators hear
    about any competition this sale sold out. `messages`: built ahead by order_paid_messages;
    `competitions`: the order's competitions as locked, with this sale's counts."""
    if messages is None:
        messages = order_paid_messages(order)
    enqueue(messages)
    if competitions is None:
        competition_ids = order.lines.values_list("competition_id", flat=True)
        competitions = Competition.objects.filter(
            pk__in=competition_ids, tickets_sold__gte=F("max_tickets")
        )
    sales_counted(competitions)


def sales_counted(competitions) -> None:
    """A sale's counts are in (`competitions` as it left them): operators hear about any
    competition it sold out."""
    for competition in competitions:
        if competition.tickets_sold >= competition.max_tickets:
            sold_out(competition)


def payment_refused(order, refund, problem: str) -> None:
    """A payment that could not become tickets is being refunded automatically: tell the
    customer why. `problem` is written for them; the refund's reason picks the opening."""
    Reason = type(refund).Reason
    opening = {
        Reason.LATE_PAYMENT: "Your payment arrived after your reservation ended and the tickets "
        "could not be issued: ",
        Reason.PAYMENT_MISMATCH: "Your payment did not match the order, so no tickets were "
        "issued and it is being refunded in full.",
        Reason.CREDIT_CARD: "We can’t accept this payment by credit card, so no tickets were "
        "issued and your payment is being refunded in full. ",
    }.get(refund.reason, "No tickets were issued and your payment is being refunded in full: ")
    reason = opening if refund.reason == Reason.PAYMENT_MISMATCH else opening + problem
    order_refunded(order, amount=refund.amount, reason=reason, refund=refund)


def refund_created(refund) -> None:
    """Staff (or the provider's dashboard) refunded tickets: which ones and how much."""
    order_refunded(
        refund.order, amount=refund.amount, reason=refund.get_reason_display(), refund=refund
    )


# --- the messages ---------------------------------------------------------------------------


def checkout_started(order, *, lines=None) -> None:
    """Klaviyo "Checkout Started" (marketing: abandoned-checkout flows) when numbers are held.
    `lines`: the order's lines with their competitions and answers, if the caller has them."""
    if not order.user.marketing_consent:
        return  # Klaviyo only: nothing to build (the checkout holds the sale's lock meanwhile)
    items = _order_items(_order_lines(order, lines))
    enqueue(
        [
            klaviyo_message(
                kind=Kind.CHECKOUT_STARTED,
                user=order.user,
                metric="Checkout Started",
                properties={
                    "OrderID": order.reference,
                    "CheckoutURL": absolute_url("/checkout/"),
                    "CartURL": absolute_url("/cart/"),
                    "ItemNames": [item["ProductName"] for item in items],
                    "Items": items,
                    "TicketCount": sum(item["Quantity"] for item in items),
                    "ReservedUntil": (
                        order.reserved_until.isoformat() if order.reserved_until else None
                    ),
                },
                value=order.total,
                time=order.created_at,
                key=f"checkout-started-{order.pk}",
            )
        ]
    )


def order_placed(order) -> None:
    """A paid order: confirmation e-mail and text (always), Klaviyo "Order Placed" and one
    "Competition Entered" per line (with consent)."""
    enqueue(order_placed_messages(order))


def order_placed_messages(order, *, lines=None) -> list[Notification]:
    """The messages of `order_placed`, built but not queued (pass them to `order_paid`, which
    queues them in the transaction that marks the order paid). `lines`: the
    order's lines with their competitions and answers, if the caller has them."""
    user = order.user
    key = f"order-placed-{order.pk}"
    order_lines = _order_lines(order, lines)
    lines = [
        {
            "competition": line.competition.title,
            "competition_url": absolute_url(line.competition.get_absolute_url()),
            "quantity": line.quantity,
            "unit_price": money(line.unit_price, order.currency),
            "line_total": money(line.line_total, order.currency),
            # Bundles and discount code (tickets.pricing): '' at single prices.
            "saving": money(line.bundle_discount + line.code_discount, order.currency)
            if line.bundle_discount or line.code_discount
            else "",
            "ticket_numbers": numbers,
            "answered_correctly": line.answer.is_correct,
            "draw_at": local_time(line.competition.draw_at),
        }
        for line, numbers in order_lines
    ]
    email = email_message(
        kind=Kind.ORDER_PLACED,
        recipient=user.email,
        user=user,
        subject=f"Your Fairdraw order {order.reference} is confirmed",
        template="order_placed",
        context={
            "first_name": user.first_name,
            "order_reference": order.reference,
            "order_url": absolute_url("/account/"),
            "total": money(order.total, order.currency),
            "lines": lines,
        },
        key=f"{key}-email",
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
        sms_message(
            kind=Kind.ORDER_PLACED,
            user=user,
            body=f"Fairdraw: thanks {user.first_name}! Order {order.reference} confirmed: "
            f"{summary}. Good luck! {absolute_url('/account/')}",
            key=f"{key}-sms",
        ),
        klaviyo_message(
            kind=Kind.ORDER_PLACED,
            user=user,
            metric="Order Placed",
            properties={
                "OrderID": order.reference,
                "OrderURL": absolute_url("/account/"),
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
            klaviyo_message(
                kind=Kind.COMPETITION_ENTERED,
                user=user,
                metric="Competition Entered",
                properties={
                    **competition_properties(line.competition, images[line.competition_id]),
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
    enqueue(
        [
            email_message(
                kind=Kind.ORDER_REFUNDED,
                recipient=user.email,
                user=user,
                subject=f"Refund of {money(amount, order.currency)} for order {order.reference}",
                template="order_refunded",
                context={
                    "first_name": user.first_name,
                    "order_reference": order.reference,
                    "amount": money(amount, order.currency),
                    "reason": reason,
                    "order_url": absolute_url("/account/"),
                },
                key=f"order-refunded-{order.pk}-{which}",
            )
        ]
    )


def _order_lines(order, lines=None) -> list[tuple]:
    """(line, ticket numbers) for each line of an order, the numbers in one query. `lines`:
    the order's lines with their competitions and answers, if the caller has them (with their
    `ticket_numbers` too: rules.order_lines_loaded(numbers=True), then no query)."""
    if lines is None:
        lines = order.lines.select_related("competition", "answer").order_by("pk")
    elif all(hasattr(line, "ticket_numbers") for line in lines):  # loaded with the lines
        return [(line, line.ticket_numbers) for line in lines]
    numbers: dict[int, list[int]] = {}
    tickets = order.tickets.exclude(status="refunded").order_by("number")
    for competition_id, number in tickets.values_list("competition_id", "number"):
        numbers.setdefault(competition_id, []).append(number)
    return [(line, numbers.get(line.competition_id, [])) for line in lines]


def _order_items(order_lines) -> list[dict]:
    images = image_urls([line.competition for line, _ in order_lines])
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
        "ProductURL": absolute_url(competition.get_absolute_url()),
        "ImageURL": image_url,
        "Quantity": line.quantity,
        "ItemPrice": float(line.unit_price),
        "RowTotal": float(line.line_total),
        "TicketNumbers": numbers,
        "AnsweredCorrectly": line.answer.is_correct,
        "DrawAt": competition.draw_at.isoformat(),
    }


# --- every entrant of a competition (tickets.entrants) --------------------------------------


def entrant_notice(
    *, kind, user, competition, subject_key: str, subject: str, body: str, link: str
) -> list:
    """One short transactional message to an entrant: an e-mail, and a text only for a
    customer who gave a phone number and agreed to hear from us (marketing consent): a
    notice to everyone is not worth texting a customer who asked for no messages. The keys
    are unique per competition, subject and customer, so a rerun adds nothing."""
    key = f"entrants-{competition.pk}-{subject_key}-{user.pk}"
    link = absolute_url(link)
    return [
        email_message(
            kind=kind,
            recipient=user.email,
            user=user,
            subject=subject,
            template="entrant_notice",
            context={"first_name": user.first_name, "body": body, "link": link},
            key=f"{key}-email",
        ),
        sms_message(kind=kind, user=user, body=f"Fairdraw: {body} {link}", key=f"{key}-sms")
        if user.marketing_consent
        else None,
    ]


def competition_cancelled_notices(broadcast):
    """ "Cancelled: refunds issued", to every entrant (registered as the "cancelled" kind)."""
    competition = broadcast.competition
    reason = broadcast.context.get("reason", "")
    body = (
        f"\u201c{competition.title}\u201d has been cancelled"
        + (f" ({reason})" if reason else "")
        + ". Every paid ticket is refunded in full to the card you paid with; free postal "
        "entries are void."
    )

    def build(user):
        return entrant_notice(
            kind=Kind.COMPETITION_RESULT,
            user=user,
            competition=competition,
            subject_key="result",
            subject=f"Cancelled: {competition.title}",
            body=body,
            link=competition.get_absolute_url(),
        )

    return build, ()
