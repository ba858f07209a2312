"""Turning a customer's money into ticket numbers exactly once, never beyond the quota.

The life of an order:
  `order_reserve`   validates the cart, locks its competitions (ascending id, short timeout),
                    holds the numbers as `reserved` tickets of a pending order (15 minutes).
  `order_checkout_start`   asks the payment gateway for a checkout page for that order.
  `payment_event_handle`   records a verified provider event once and acts on it:
  `order_fulfil`    payment confirmed: reserved tickets become active (invalid for a wrong
                    answer); a lapsed reservation is re-reserved if the rules still allow it,
                    otherwise the payment is refunded automatically. So is a credit-card
                    payment the code of practice refuses (tickets.cards).
  `order_release`   a lapsed or cancelled checkout gives its numbers back; after commit a task
                    closes the provider's checkout page (`order_checkout_expire`).
  `order_refund`    staff refund a whole order or single tickets; the numbers return to sale.
  `postal_entry_add`   free entries, same limits, same chance.

Every function that changes numbers or counters locks the competitions first (tickets.locking),
then the order; those that judge the customer's spend (order_reserve, order_fulfil) or give a
customer numbers (order_reserve, order_fulfil, postal_entry_add) lock the customer's row before
both. So what a customer holds can only grow under their row lock, and order_reserve counts it
before taking the competitions' locks. The counters on Competition and the unique index on
(competition, number) are the database's own guarantee that nothing is oversold or sold twice.

The competitions' row locks serialise every sale of a popular competition, so the work done
while they are held is kept to what needs them: the customer's checks, the order and its lines
come before; inside, one query per step (the fresh rows, the number probe, the tickets, the
counter) and what the notifications need, mostly from rows already in hand.
"""

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import CharField, Count, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import ExclusionKind, User
from accounts.services import age_verification_needed_message
from competitions.lifecycle import Status
from competitions.models import AnswerChoice, Competition
from core.models import OperatorSettings

from . import allocation, cards, events, payments, spending
from .exceptions import (
    AnswerRequired,
    CartEmpty,
    LimitReached,
    NotEligible,
    NumberTaken,
    PaymentFailed,
    ProviderUnavailable,
    RefundRefused,
    SalesClosed,
    SoldOut,
    TicketError,
)
from .locking import lock_competitions
from .models import Order, OrderLine, PaymentEvent, Refund, Ticket

logger = logging.getLogger(__name__)

RELEASED_STATES = (Order.Status.EXPIRED, Order.Status.CANCELLED)
CLOSED_FOR_GOOD = (Status.DRAWN, Status.CANCELLED)


@dataclass(frozen=True)
class LineRequest:
    """What a customer asks for in one competition: lucky-dip tickets and/or chosen numbers."""

    competition_id: int
    answer_id: int | None
    quantity: int = 0  # lucky dip
    numbers: tuple[int, ...] = ()

    @property
    def count(self) -> int:
        return self.quantity + len(self.numbers)


@dataclass
class _Line:
    competition: Competition
    answer: AnswerChoice
    quantity: int
    numbers: list[int] = field(default_factory=list)

    @property
    def count(self) -> int:
        return self.quantity + len(self.numbers)


# ---------------------------------------------------------------- checks


def _check_eligible(user, now=None, operator=None) -> None:
    """`operator`: the OperatorSettings row this purchase read (default: read it)."""
    if user.is_excluded(now):
        raise NotEligible(_exclusion_message(user))
    if not user.may_purchase(now, operator):
        if user.awaits_age_verification(now, operator):
            raise NotEligible(age_verification_needed_message())
        raise NotEligible(
            "Only adults (18+) with an account in good standing can enter. "
            "Please add your date of birth to your account."
            if user.is_active and not user.is_banned and user.date_of_birth is None
            else "Only adults (18+) with an account in good standing can enter."
        )


def _eligibility_problem(user, now, operator=None) -> str | None:
    """Why the customer may not buy at `now` (for them to read), or None."""
    try:
        _check_eligible(user, now, operator)
    except NotEligible as exc:
        return str(exc)
    return None


def _exclusion_message(user) -> str:
    if user.exclusion_kind == ExclusionKind.CLOSED:
        return "Your account is closed, so you can’t enter competitions."
    until = timezone.localtime(user.excluded_until).strftime("%-d %B %Y at %H:%M")
    if user.exclusion_kind == ExclusionKind.SELF_EXCLUSION:
        return f"You have self-excluded, so you can’t enter competitions until {until}."
    return f"You are taking a break, so you can’t enter competitions until {until}."


def _prepare(lines: Sequence[LineRequest]) -> list[_Line]:
    """Everything that can be checked without a lock: answers, number ranges, duplicates."""
    if not lines:
        raise CartEmpty("Your basket is empty.")
    # The answers bring their competitions (one query); only a line without a fitting answer,
    # which is refused below, costs a second.
    answers = AnswerChoice.objects.select_related("competition").in_bulk(
        [line.answer_id for line in lines if line.answer_id]
    )
    competitions = {a.competition_id: a.competition for a in answers.values()}
    missing = [line.competition_id for line in lines if line.competition_id not in competitions]
    if missing:
        competitions.update(Competition.objects.in_bulk(missing))
    prepared = []
    for line in lines:
        competition = competitions.get(line.competition_id)
        if competition is None:
            raise SalesClosed("That competition is no longer available.")
        answer = answers.get(line.answer_id)
        if answer is None or answer.competition_id != competition.pk:
            raise AnswerRequired(f"Please answer the question for “{competition.title}”.")
        numbers = list(line.numbers)
        if line.quantity < 0 or line.count < 1:
            raise ValueError("A line needs at least one ticket.")
        duplicates = [n for n, times in Counter(numbers).items() if times > 1]
        if duplicates:
            raise NumberTaken(duplicates)
        impossible = [n for n in numbers if n < 1 or n > competition.max_tickets]
        if impossible:
            raise NumberTaken(impossible)
        prepared.append(_Line(competition, answer, line.quantity, numbers))
    return prepared


def _held_by(user, competition_id: int) -> int:
    """Tickets the customer holds in a competition across all orders and postal entries."""
    return (
        Ticket.objects.filter(
            competition_id=competition_id, user=user, status__in=allocation.HOLDING_STATUSES
        )
        .order_by()
        .count()
    )


def _holdings(user, competition_ids) -> dict[int, int]:
    """`_held_by` for several competitions in one query (absent: none held)."""
    return dict(
        Ticket.objects.filter(
            competition_id__in=list(competition_ids),
            user=user,
            status__in=allocation.HOLDING_STATUSES,
        )
        .order_by()
        .values("competition_id")
        .annotate(held=Count("pk"))
        .values_list("competition_id", "held")
    )


def _lock_customer(user_id: int) -> User:
    """Lock the customer's row (before any competition's, always) and return it fresh."""
    return User.objects.select_for_update().get(pk=user_id)


def _check_line(*, competition: Competition, user, line: _Line, now, held=None) -> None:
    """The sale rules, checked on the locked, fresh competition row. `held`: what the customer
    holds in it, if counted already under their row lock."""
    if competition.live_status(now) != Status.ACTIVE:
        raise SalesClosed(f"Entries for “{competition.title}” are closed.")
    left = competition.tickets_left
    if line.count > left:
        held = (
            f" More may come free in the next {settings.FAIRDRAW_RESERVATION_MINUTES} minutes"
            " as other customers' baskets expire."
            if competition.tickets_reserved
            else ""
        )
        raise SoldOut(
            (
                f"Only {left} tickets left for “{competition.title}”."
                if left
                else f"“{competition.title}” is sold out."
            )
            + held
        )
    if held is None:
        held = _held_by(user, competition.pk)
    if held + line.count > competition.max_tickets_per_user:
        raise LimitReached(
            f"You can hold at most {competition.max_tickets_per_user} tickets for "
            f"“{competition.title}”; you have {held}."
        )
    taken = allocation.taken_among(competition.pk, line.numbers)
    if taken:
        raise NumberTaken(taken)


def _allocate(*, competition: Competition, line: _Line) -> list[int]:
    lucky = allocation.lucky_dip(
        competition_id=competition.pk,
        max_number=competition.max_tickets,
        free_count=competition.tickets_left,
        quantity=line.quantity,
        exclude=line.numbers,
    )
    return sorted([*line.numbers, *lucky])


def _count(competition_id: int, *, sold: int = 0, reserved: int = 0, now) -> None:
    Competition.objects.filter(pk=competition_id).update(
        tickets_sold=F("tickets_sold") + sold,
        tickets_reserved=F("tickets_reserved") + reserved,
        updated_at=now,
    )


def _tickets(*, competition, user, order, numbers, status, source, now) -> list[Ticket]:
    """New (unsaved) tickets: callers insert all of a sale's in one bulk_create."""
    return [
        Ticket(
            competition=competition,
            number=n,
            user=user,
            order=order,
            status=status,
            source=source,
            purchased_at=now,
        )
        for n in numbers
    ]


def _ticket_status(answer: AnswerChoice) -> str:
    return Ticket.Status.ACTIVE if answer.is_correct else Ticket.Status.INVALID


def _competition_ids(order_id: int) -> list[int]:
    return list(
        OrderLine.objects.filter(order_id=order_id)
        .order_by()
        .values_list("competition_id", flat=True)
    )


def line_check(*, user, competition: Competition, answer_id, quantity: int, numbers) -> None:
    """The rules a basket line can be held to before checkout (no lock, nothing written):
    raises the same errors checkout would, so the customer hears early. Checkout re-checks."""
    now = timezone.now()
    (line,) = _prepare(
        [LineRequest(competition.pk, answer_id, quantity=quantity, numbers=tuple(numbers))]
    )
    competition = line.competition
    if competition.live_status(now) != Status.ACTIVE:
        raise SalesClosed(f"Entries for “{competition.title}” are closed.")
    if line.count > competition.tickets_left:
        raise SoldOut(
            f"Only {competition.tickets_left} tickets left for “{competition.title}”."
            if competition.tickets_left
            else f"“{competition.title}” is sold out."
        )
    held = _held_by(user, competition.pk) if user is not None and user.is_authenticated else 0
    if held + line.count > competition.max_tickets_per_user:
        raise LimitReached(
            f"You can hold at most {competition.max_tickets_per_user} tickets for "
            f"“{competition.title}”" + (f"; you have {held}." if held else ".")
        )
    taken = allocation.taken_among(competition.pk, line.numbers)
    if taken:
        raise NumberTaken(taken)


# ---------------------------------------------------------------- reserving


def order_reserve(*, user, lines: Sequence[LineRequest], now=None) -> Order:
    """Hold numbers for a customer's cart in a pending order until `reserved_until`.

    Validates and loads outside the lock; inside it, re-checks every line (sales open, quota,
    per-customer limit across all orders, chosen numbers free), picks lucky-dip numbers and
    writes the order, its lines and its reserved tickets. All or nothing. Lapsed reservations
    standing in the way (a line short of numbers, over the limit, or wanting a held number) are
    released and the cart tried once more; otherwise the periodic task releases them."""
    now = now or timezone.now()
    # Read once for this purchase and passed to every rule that needs it.
    operator = OperatorSettings.current()
    _check_eligible(user, now, operator)
    prepared = _prepare(lines)
    try:
        return _reserve(user=user, prepared=prepared, operator=operator, now=now)
    except (SoldOut, LimitReached, NumberTaken):
        # Each release takes its own transaction and locks (ascending ids), never inside ours.
        ids = [line.competition.pk for line in prepared]
        if not reservations_release_expired(competition_ids=ids, now=now):
            raise
        return _reserve(user=user, prepared=prepared, operator=operator, now=now)


def _reserve(*, user, prepared: list[_Line], operator, now) -> Order:
    ids = [line.competition.pk for line in prepared]
    total = sum((x.competition.ticket_price * x.count for x in prepared), Decimal("0"))
    with transaction.atomic():
        # The customer's row before any competition's (always in that order): two checkouts
        # of one customer queue here, so they cannot both fit under the spend limit, and what
        # they hold cannot grow until this commits (see the module docstring), so it is counted
        # here rather than under the competitions' locks.
        user = _lock_customer(user.pk)
        _check_eligible(user, now, operator)
        spending.spend_check(user=user, amount=total, now=now, operator=operator)
        held = _holdings(user, ids)
        # The order and its lines at the prices read before the lock: nobody else can see them
        # yet, so they need no lock, and a price change seen under the lock refuses the order.
        order = Order.objects.create(
            user=user,
            status=Order.Status.PENDING,
            currency=settings.FAIRDRAW_CURRENCY,
            total=total,
            reserved_until=now + timedelta(minutes=settings.FAIRDRAW_RESERVATION_MINUTES),
        )
        order_lines = OrderLine.objects.bulk_create(
            [
                OrderLine(
                    order=order,
                    competition=line.competition,
                    quantity=line.count,
                    chosen_numbers=line.numbers,
                    answer=line.answer,
                    unit_price=line.competition.ticket_price,
                    line_total=line.competition.ticket_price * line.count,
                )
                for line in prepared
            ]
        )
        locked = lock_competitions(ids)
        for line in prepared:
            competition = locked[line.competition.pk]
            if competition.ticket_price != line.competition.ticket_price:
                raise SalesClosed(f"The price of “{competition.title}” has just changed.")
            _check_line(
                competition=competition,
                user=user,
                line=line,
                now=now,
                held=held.get(competition.pk, 0),
            )
        tickets = []
        for line in prepared:
            competition = locked[line.competition.pk]
            tickets += _tickets(
                competition=competition,
                user=user,
                order=order,
                numbers=_allocate(competition=competition, line=line),
                status=Ticket.Status.RESERVED,
                source=Ticket.Source.PAID,
                now=now,
            )
        Ticket.objects.bulk_create(tickets)
        for line in prepared:
            _count(line.competition.pk, reserved=line.count, now=now)
        events.order_reserved(order, lines=order_lines)
    return order


def order_checkout_start(*, order: Order, success_url: str, cancel_url: str) -> str:
    """Open the payment provider's checkout for a pending order; returns where to send the
    customer. If the provider fails, the reservation is given back at once."""
    gateway = payments.get_gateway()
    position = cards.credit_card_position(
        user=order.user, competition_ids=order.lines.values_list("competition_id", flat=True)
    )
    try:
        session = gateway.create_checkout(
            order,
            success_url=success_url,
            cancel_url=cancel_url,
            submit_message=cards.payment_notice(position),
        )
    except PaymentFailed:
        order_release(order_id=order.pk, reason=Order.Status.CANCELLED, only_if_lapsed=False)
        raise
    Order.objects.filter(pk=order.pk).update(stripe_checkout_session_id=session.id)
    order.stripe_checkout_session_id = session.id
    if Order.objects.filter(pk=order.pk, status__in=RELEASED_STATES).exists():
        # Released while the provider opened the page (its competition was cancelled, say):
        # the release may have missed the session id, so close the page from here too.
        if payments.is_stripe_session(session.id):
            transaction.on_commit(partial(_queue_checkout_expiry, order.pk), robust=True)
        raise PaymentFailed("Your numbers are no longer held. Please check out again.")
    return session.url


def order_release(
    *,
    order_id: int,
    reason: str = Order.Status.EXPIRED,
    only_if_lapsed: bool = True,
    expire_checkout: bool = True,
    now=None,
) -> bool:
    """Give a pending order's numbers back. Returns False if it was no longer pending (paid,
    already released) or, with `only_if_lapsed`, not yet past `reserved_until`.

    Once the release commits, a task closes the order's Stripe checkout
    (`order_checkout_expire`) so the customer cannot pay for numbers they no longer hold;
    `expire_checkout=False` when Stripe itself said the checkout expired."""
    now = now or timezone.now()
    if reason not in (Order.Status.EXPIRED, Order.Status.CANCELLED):
        raise ValueError(f"Cannot release an order as {reason!r}.")
    with transaction.atomic():
        lock_competitions(_competition_ids(order_id))
        claim = Order.objects.filter(pk=order_id, status=Order.Status.PENDING)
        if only_if_lapsed:
            claim = claim.filter(reserved_until__lte=now)
        if not claim.update(status=reason, updated_at=now):
            return False
        _drop_reservations(order_id=order_id, now=now)
        if expire_checkout:
            session_id = Order.objects.values_list("stripe_checkout_session_id", flat=True).get(
                pk=order_id
            )
            if payments.is_stripe_session(session_id):
                # robust: a broker hiccup must not fail the release sweep; the session then
                # lapses by itself (Stripe's expires_at) and a payment takes the late path.
                transaction.on_commit(partial(_queue_checkout_expiry, order_id), robust=True)
    return True


def _queue_checkout_expiry(order_id: int) -> None:
    from .tasks import expire_checkout

    expire_checkout.delay(order_id)


def order_checkout_expire(*, order_id: int) -> str:
    """Close a released order's Stripe checkout, so it can no longer be paid. Returns what
    happened. The task (tickets.tasks.expire_checkout) runs it after the release commits, never
    inside that transaction; it is safe to run any number of times.

    Nothing here changes our data, so nothing is locked: Stripe decides between a payment and
    the expiry. If the customer paid first, the session is complete and its webhook takes the
    late-payment path (`order_fulfil`: re-reserved or refunded there, not here). Raises
    ProviderUnavailable when trying again later may work; any other failure is logged (the
    session still lapses at its own `expires_at`)."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        return "no such order"
    if order.status not in RELEASED_STATES:
        return f"nothing to expire: the order is {order.status}"
    session_id = order.stripe_checkout_session_id
    if not payments.is_stripe_session(session_id):
        return "nothing to expire: no Stripe checkout"
    gateway = payments.get_gateway()
    if not isinstance(gateway, payments.StripeGateway):
        logger.warning("Checkout %s of %s not expired: Stripe is not configured", session_id, order)
        return "nothing to expire: Stripe is not configured"
    try:
        status = gateway.expire_checkout(session_id)
    except ProviderUnavailable:
        raise
    except PaymentFailed as exc:
        logger.error("Checkout %s of %s could not be expired: %s", session_id, order, exc)
        return f"could not expire: {exc}"
    if status == "complete":
        logger.info("Checkout %s of %s was paid before it could be expired", session_id, order)
        return "already paid: the payment's webhook settles it"
    return "checkout expired"


def _drop_reservations(*, order_id: int, now) -> None:
    held = Counter(
        Ticket.objects.filter(order_id=order_id, status=Ticket.Status.RESERVED).values_list(
            "competition_id", flat=True
        )
    )
    Ticket.objects.filter(order_id=order_id, status=Ticket.Status.RESERVED).delete()
    for competition_id, count in held.items():
        _count(competition_id, reserved=-count, now=now)


def reservations_release_expired(*, competition_ids=None, now=None, limit: int = 500) -> int:
    """Release lapsed reservations (all, or those touching `competition_ids`): the periodic
    task calls it, and so does every reservation before checking the quota."""
    now = now or timezone.now()
    lapsed = Order.objects.filter(status=Order.Status.PENDING, reserved_until__lte=now)
    if competition_ids is not None:
        lapsed = lapsed.filter(
            pk__in=OrderLine.objects.filter(competition_id__in=list(competition_ids)).values(
                "order_id"
            )
        )
    order_ids = list(lapsed.order_by("reserved_until").values_list("pk", flat=True)[:limit])
    return sum(order_release(order_id=pk, now=now) for pk in order_ids)


# ---------------------------------------------------------------- payment


@dataclass
class Fulfilment:
    outcome: str
    order: Order
    refund: Refund | None = None


def order_fulfil(
    *,
    order_id: int,
    amount_paid: Decimal | None = None,
    currency: str | None = None,
    payment_intent_id: str = "",
    session_id: str | None = None,
    card_funding: str = "",
    now=None,
) -> Fulfilment:
    """A payment for this order has been confirmed. Issue its tickets exactly once.

    A pending order's reserved tickets become active (invalid for a wrong answer). An order whose
    reservation lapsed is re-reserved if sales are open and the rules allow it (chosen numbers
    must still be free; lucky dips take any free numbers, spend limits and eligibility hold);
    otherwise, or if the payment does not match the order, or it was made by a credit card the
    code of practice refuses (tickets.cards), the money is refunded automatically and no ticket
    is created. `card_funding` is the paying card's type as the provider reported it."""
    now = now or timezone.now()
    payment = {
        "amount_paid": amount_paid,
        "currency": currency,
        "payment_intent_id": payment_intent_id,
        "session_id": session_id,
        "card_funding": card_funding,
    }
    # The order with its lines, their competitions and answers, read before any lock: whose it
    # is and what it is for never change; everything else is checked again under the locks.
    lines = list(
        OrderLine.objects.filter(order_id=order_id)
        .select_related("order", "competition", "answer")
        .order_by("pk")
    )
    order = lines[0].order if lines else Order.objects.get(pk=order_id)
    with transaction.atomic():
        # The customer's row before the competitions' (as order_reserve): their payments queue
        # here, so two credit-card payments cannot both fit under the monthly cap.
        user = _lock_customer(order.user_id)
        operator = OperatorSettings.current()  # read once, before the competitions' locks
        if order.status == Order.Status.PENDING:
            paid = _pay_pending(
                order=order, lines=lines, user=user, operator=operator, now=now, **payment
            )
            if paid is not None:
                return paid
        return _fulfil_locked(
            order_id=order_id,
            competition_ids=[line.competition_id for line in lines],
            user=user,
            operator=operator,
            now=now,
            **payment,
        )


def _take_payment(order: Order, *, payment_intent_id, session_id, card_funding) -> None:
    """Note the provider's facts about the payment on the order (saved when it is marked)."""
    if payment_intent_id:
        order.stripe_payment_intent_id = payment_intent_id
    if session_id and not order.stripe_checkout_session_id:
        order.stripe_checkout_session_id = session_id
    if card_funding:
        order.card_funding = card_funding


def _mismatch(order: Order, amount_paid, currency) -> bool:
    return amount_paid is not None and (
        amount_paid != order.total or (currency or order.currency).upper() != order.currency.upper()
    )


def _pay_pending(
    *, order: Order, lines: list[OrderLine], user, operator, now, amount_paid, currency, **facts
) -> Fulfilment | None:
    """The usual payment, with as little as possible done under the competitions' locks: a
    pending order paid in full, by a card the rules accept, by a customer still allowed to buy.

    All of that is decided before those locks, from the customer's locked row and the order's
    amounts and lines (which never change), and the confirmation is built then too: a pending
    order's numbers are the ones it issues. Under the locks: the competitions must not be drawn
    or cancelled, and a compare-and-set claim (pending -> paid) proves the order is still
    pending, so nothing read before has changed (a pending order's tickets only ever change
    with its status). None: not the usual case, for the caller to decide on locked rows."""
    order.user = user
    _take_payment(order, **facts)
    if _mismatch(order, amount_paid, currency):
        return None
    refusal = cards.credit_card_refusal(
        user=user, order=order, funding=order.card_funding, now=now, operator=operator
    )
    if refusal or _eligibility_problem(user, now, operator):
        return None
    order.paid_at = now
    messages = events.order_paid_messages(order, lines=lines)
    locked = lock_competitions([line.competition_id for line in lines])
    if any(competition.status in CLOSED_FOR_GOOD for competition in locked.values()):
        return None
    if not _claim_paid(order, now=now):
        return None
    for line in lines:
        competition = locked[line.competition_id]
        converted = Ticket.objects.filter(
            order=order, competition=competition, status=Ticket.Status.RESERVED
        ).update(status=_ticket_status(line.answer), purchased_at=now)
        _count(competition.pk, sold=converted, reserved=-converted, now=now)
        competition.tickets_sold += converted
        competition.tickets_reserved -= converted
    events.order_paid(order, messages=messages, competitions=locked.values())
    return Fulfilment("paid", order)


def _fulfil_locked(
    *, order_id: int, competition_ids, user, operator, now, amount_paid, currency, **facts
) -> Fulfilment:
    """order_fulfil on the locked rows, for every case: a lapsed or released order, a payment
    that must be refunded, a duplicate; and the usual one if `_pay_pending` found the order
    changed before it was locked."""
    locked = lock_competitions(competition_ids)
    # The order (locked) and its lines in one query.
    lines = list(
        OrderLine.objects.filter(order_id=order_id)
        .select_related("order", "answer")
        .select_for_update(of=("order",))
        .order_by("pk")
    )
    order = lines[0].order if lines else Order.objects.select_for_update().get(pk=order_id)
    order.user = user
    for line in lines:
        line.competition = locked[line.competition_id]
    if order.status in Order.PAID_STATES:
        return Fulfilment("already paid", order)
    _take_payment(order, **facts)
    mismatch = _mismatch(order, amount_paid, currency)
    refused_card = None
    if not mismatch:
        refused_card = cards.credit_card_refusal(
            user=user, order=order, funding=order.card_funding, now=now, operator=operator
        )
    # Banned, excluded or closed since checking out: the payment is refunded, not turned
    # into tickets (a break or self-exclusion stops every purchase at once).
    # (A lapsed order's re-issue checks the same in _reissue.)
    barred = (
        _eligibility_problem(user, now, operator)
        if order.status == Order.Status.PENDING and not (mismatch or refused_card)
        else None
    )
    closed = any(locked[line.competition_id].status in CLOSED_FOR_GOOD for line in lines)
    if order.status == Order.Status.PENDING and not (mismatch or refused_card or barred or closed):
        for line in lines:
            converted = Ticket.objects.filter(
                order=order, competition_id=line.competition_id, status=Ticket.Status.RESERVED
            ).update(status=_ticket_status(line.answer), purchased_at=now)
            _count(line.competition_id, sold=converted, reserved=-converted, now=now)
            line.competition.tickets_sold += converted
            line.competition.tickets_reserved -= converted
        _mark_paid(order, now=now)
        events.order_paid(order, competitions=locked.values())
        return Fulfilment("paid", order)

    if order.status == Order.Status.PENDING:
        _drop_reservations(order_id=order.pk, now=now)
        for competition in locked.values():
            competition.refresh_from_db(fields=["tickets_sold", "tickets_reserved"])
    if mismatch:
        problem, reason = "the payment did not match the order", Refund.Reason.PAYMENT_MISMATCH
    elif refused_card:
        problem, reason = refused_card, Refund.Reason.CREDIT_CARD
    elif barred:
        problem, reason = barred, Refund.Reason.OTHER
    else:
        problem = _reissue(
            order=order, user=user, lines=lines, locked=locked, operator=operator, now=now
        )
        reason = Refund.Reason.LATE_PAYMENT
    if problem is None:
        _mark_paid(order, now=now)
        events.order_paid(order, competitions=locked.values())
        return Fulfilment("paid after the reservation lapsed", order)

    amount = amount_paid if amount_paid is not None else order.total
    order.status = Order.Status.REFUNDED
    order.paid_at = now
    order.amount_refunded = min(amount, order.total)
    order.save()
    refund = Refund.objects.create(
        order=order, amount=amount, currency=order.currency, reason=reason, note=problem[:255]
    )
    events.payment_refused(order, refund, problem)
    transaction.on_commit(lambda: _queue_refund(refund.pk))
    return Fulfilment("refunded: " + problem, order, refund)


def _reissue(*, order: Order, user, lines: list[OrderLine], locked, operator, now) -> str | None:
    """Issue a lapsed order's tickets afresh if the customer may still buy them, as a new
    checkout would (eligibility, every line's sale rules, spend limits); otherwise write nothing
    and say why (for the customer). `user` is the customer's locked row."""
    try:
        with transaction.atomic():
            _check_eligible(user, now, operator)
            wanted = []
            for line in lines:
                competition = locked[line.competition_id]
                chosen = list(line.chosen_numbers or [])
                wanted.append(_Line(competition, line.answer, line.quantity - len(chosen), chosen))
                _check_line(competition=competition, user=user, line=wanted[-1], now=now)
            # The order holds nothing now (its reservation lapsed or was just dropped, and the
            # lines were checked above), so `monthly_spend` does not count it a second time.
            spending.spend_check(user=user, amount=order.total, now=now, operator=operator)
            tickets = []
            for line, want in zip(lines, wanted, strict=True):
                competition = locked[line.competition_id]
                numbers = _allocate(competition=competition, line=want)
                tickets += _tickets(
                    competition=competition,
                    user=user,
                    order=order,
                    numbers=numbers,
                    status=_ticket_status(line.answer),
                    source=Ticket.Source.PAID,
                    now=now,
                )
                _count(competition.pk, sold=len(numbers), now=now)
                competition.tickets_sold += len(numbers)
            Ticket.objects.bulk_create(tickets)
    except TicketError as exc:
        return str(exc)
    return None


def _mark_paid(order: Order, *, now) -> None:
    if not _claim_paid(order, now=now):  # we hold the row lock, so this means a bug, not a race
        raise RuntimeError(f"Order {order.pk} changed while being paid.")


def _claim_paid(order: Order, *, now) -> bool:
    """Compare-and-set: the order, still in the status read, becomes paid with the payment's
    facts (a checkout session already on record is kept). False if it was no longer so."""
    claimed = Order.objects.filter(pk=order.pk, status=order.status).update(
        status=Order.Status.PAID,
        paid_at=now,
        stripe_payment_intent_id=order.stripe_payment_intent_id,
        stripe_checkout_session_id=Coalesce(
            "stripe_checkout_session_id",
            Value(order.stripe_checkout_session_id, output_field=CharField()),
        ),
        card_funding=order.card_funding,
        updated_at=now,
    )
    if claimed != 1:
        return False
    order.status = Order.Status.PAID
    order.paid_at = now
    return True


def _queue_refund(refund_id: int) -> None:
    from .tasks import submit_refund

    submit_refund.delay(refund_id)


@transaction.atomic
def order_record_paid(
    *,
    user,
    competition: Competition,
    answer: AnswerChoice | None,
    quantity: int | None = None,
    numbers: Sequence[int] = (),
    payment_reference: str = "",
    now=None,
) -> Order:
    """Record a one-line order paid outside online checkout (demo data, phone sales) and issue
    its tickets: the same reservation and fulfilment as a checkout, in one transaction."""
    now = now or timezone.now()
    numbers = tuple(numbers)
    if answer is None or answer.competition_id != competition.pk:
        raise AnswerRequired("Please answer the skill question.")
    if not numbers and (quantity or 0) < 1:
        raise ValueError("quantity must be positive")
    order = order_reserve(
        user=user,
        lines=[
            LineRequest(
                competition_id=competition.pk,
                answer_id=answer.pk,
                quantity=0 if numbers else quantity,
                numbers=numbers,
            )
        ],
        now=now,
    )
    result = order_fulfil(order_id=order.pk, payment_intent_id=payment_reference, now=now)
    return result.order


# ---------------------------------------------------------------- provider events


def payment_event_handle(*, event: dict, now=None) -> str:
    """Record a verified provider event and act on it once, however often it is delivered.

    The event row is written first (so every delivery is on record even if processing fails
    and the provider retries). What the provider must be asked (the card's type) is asked next,
    before any lock is taken; if it cannot be, ProviderUnavailable leaves the event unprocessed
    for the provider to deliver again. Processing and marking it processed commit together."""
    now = now or timezone.now()
    recorded, _ = PaymentEvent.objects.get_or_create(
        stripe_event_id=event["id"], defaults={"type": event.get("type", ""), "payload": event}
    )
    if recorded.processed_at is not None:
        return f"duplicate event ({recorded.outcome})"
    obj = event.get("data", {}).get("object", {})
    lookup = PROVIDER_LOOKUPS.get(event.get("type"))
    try:
        facts = lookup(obj) if lookup else {}
    except ProviderUnavailable as exc:
        PaymentEvent.objects.filter(pk=recorded.pk, processed_at__isnull=True).update(
            outcome=f"not processed yet: {exc}"[:255]
        )
        raise
    with transaction.atomic():
        recorded = PaymentEvent.objects.select_for_update().get(pk=recorded.pk)
        if recorded.processed_at is not None:
            return f"duplicate event ({recorded.outcome})"
        handler = EVENT_HANDLERS.get(event.get("type"))
        outcome, order = handler(obj, now, **facts) if handler else ("ignored", None)
        recorded.order = order
        recorded.outcome = outcome[:255]
        recorded.processed_at = now
        recorded.save(update_fields=["order", "outcome", "processed_at"])
    return outcome


def _order_for_session(session: dict) -> Order | None:
    metadata = session.get("metadata") or {}
    lookups = [
        {"pk": metadata.get("order_id")} if str(metadata.get("order_id", "")).isdigit() else None,
        {"reference": session.get("client_reference_id")}
        if session.get("client_reference_id")
        else None,
        {"stripe_checkout_session_id": session.get("id")} if session.get("id") else None,
    ]
    for lookup in filter(None, lookups):
        order = Order.objects.filter(**lookup).first()
        if order:
            return order
    return None


def _session_card_funding(session: dict) -> dict:
    """Ask the provider which kind of card paid (a paid session of an order still to fulfil)."""
    intent_id = session.get("payment_intent") or ""
    if not intent_id or session.get("payment_status") != "paid":
        return {}
    order = _order_for_session(session)
    if order is None or order.status in Order.PAID_STATES:
        return {}
    return {"card_funding": payments.get_gateway().card_funding(intent_id)}


def _on_session_completed(session: dict, now, card_funding: str = ""):
    order = _order_for_session(session)
    if order is None:
        return "no matching order", None
    if session.get("payment_status") not in ("paid", "no_payment_required"):
        return "awaiting payment", order
    result = order_fulfil(
        order_id=order.pk,
        amount_paid=payments.from_pence(session.get("amount_total")),
        currency=session.get("currency"),
        payment_intent_id=session.get("payment_intent") or "",
        session_id=session.get("id"),
        card_funding=card_funding,
        now=now,
    )
    return result.outcome, result.order


def _on_payment_failed(intent: dict, now):
    """A card was declined at checkout. The checkout stays open and the order pending (the
    customer may try another card); the event, linked to the order, is the record of it."""
    metadata = intent.get("metadata") or {}
    order_id = str(metadata.get("order_id", ""))
    order = Order.objects.filter(pk=order_id).first() if order_id.isdigit() else None
    if order is None and intent.get("id"):
        order = Order.objects.filter(stripe_payment_intent_id=intent["id"]).first()
    if order is None:
        return "no matching order", None
    error = intent.get("last_payment_error") or {}
    code = error.get("decline_code") or error.get("code") or "declined"
    message = error.get("message") or ""
    return f"payment declined: {code}" + (f" ({message})" if message else ""), order


def _on_session_expired(session: dict, now):
    order = _order_for_session(session)
    if order is None:
        return "no matching order", None
    released = order_release(
        order_id=order.pk,
        reason=Order.Status.EXPIRED,
        only_if_lapsed=False,
        expire_checkout=False,  # Stripe says it has expired
        now=now,
    )
    return ("reservation released" if released else f"nothing to release ({order.status})"), order


def _on_charge_refunded(charge: dict, now):
    """A refund seen at the provider. Ours are already on record; one made in the provider's
    dashboard is recorded, and if it returned everything the tickets are refunded too."""
    order = Order.objects.filter(
        stripe_payment_intent_id=charge.get("payment_intent") or "-"
    ).first()
    if order is None:
        return "no matching order", None
    refunded_there = payments.from_pence(charge.get("amount_refunded")) or Decimal("0")
    ours = sum((r.amount for r in order.refunds.exclude(status=Refund.Status.FAILED)), Decimal("0"))
    if refunded_there <= ours:
        return "refund already recorded", order
    if charge.get("refunded") and order.status in (
        Order.Status.PAID,
        Order.Status.PARTIALLY_REFUNDED,
    ):
        try:
            refund = order_refund(
                order=order,
                reason=Refund.Reason.PROVIDER,
                note="Refunded in the payment provider's dashboard.",
                submit=False,
                now=now,
            )
        except RefundRefused as exc:
            logger.error("Order %s refunded at the provider but not here: %s", order, exc)
        else:
            Refund.objects.filter(pk=refund.pk).update(
                status=Refund.Status.SUCCEEDED, completed_at=now
            )
            return "refunded at the provider; tickets refunded", order
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        extra = refunded_there - ours
        Refund.objects.create(
            order=order,
            amount=extra,
            currency=order.currency,
            reason=Refund.Reason.PROVIDER,
            note="Partly refunded in the payment provider's dashboard; tickets untouched.",
            status=Refund.Status.SUCCEEDED,
            completed_at=now,
        )
        order.amount_refunded = min(order.total, order.amount_refunded + extra)
        order.save(update_fields=["amount_refunded", "updated_at"])
    return "partial refund at the provider recorded", order


EVENT_HANDLERS = {
    "checkout.session.completed": _on_session_completed,
    "checkout.session.async_payment_succeeded": _on_session_completed,
    "checkout.session.expired": _on_session_expired,
    "charge.refunded": _on_charge_refunded,
    "payment_intent.payment_failed": _on_payment_failed,
}

# What an event's handler needs from the provider, asked before any lock (keyword arguments).
PROVIDER_LOOKUPS = {
    "checkout.session.completed": _session_card_funding,
    "checkout.session.async_payment_succeeded": _session_card_funding,
}


# ---------------------------------------------------------------- refunds


def order_refund(
    *,
    order: Order,
    tickets: Sequence[Ticket] | None = None,
    reason: str = Refund.Reason.REQUESTED,
    note: str = "",
    by=None,
    submit: bool = True,
    now=None,
) -> Refund:
    """Refund a paid order's tickets (all live ones, or those given) at their price paid.

    The tickets become `refunded` and their numbers return to sale, in one locked transaction;
    the money goes back through the payment gateway after it commits. Refused once a
    competition is drawn."""
    now = now or timezone.now()
    ticket_ids = None if tickets is None else {t.pk for t in tickets}
    with transaction.atomic():
        locked = lock_competitions(_competition_ids(order.pk))
        order = Order.objects.select_for_update().get(pk=order.pk)
        if order.status not in (Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED):
            raise RefundRefused(f"Only a paid order can be refunded; {order} is {order.status}.")
        live = Ticket.objects.filter(order=order, status__in=Ticket.SOLD_STATUSES)
        if ticket_ids is not None:
            live = live.filter(pk__in=ticket_ids)
        chosen = list(live)
        if ticket_ids is not None and len(chosen) != len(ticket_ids):
            raise RefundRefused("Some of those tickets are not live tickets of this order.")
        if not chosen:
            raise RefundRefused(f"{order} has no tickets left to refund.")
        for competition_id in {t.competition_id for t in chosen}:
            competition = locked[competition_id]
            if competition.status == Status.DRAWN:
                raise RefundRefused(f"“{competition.title}” has been drawn: no more refunds.")
        prices = dict(order.lines.values_list("competition_id", "unit_price"))
        amount = sum((prices[t.competition_id] for t in chosen), Decimal("0"))
        Ticket.objects.filter(pk__in=[t.pk for t in chosen]).update(
            status=Ticket.Status.REFUNDED, refunded_at=now
        )
        for competition_id, count in Counter(t.competition_id for t in chosen).items():
            _count(competition_id, sold=-count, now=now)
        remaining = Ticket.objects.filter(order=order, status__in=Ticket.SOLD_STATUSES).exists()
        order.status = Order.Status.PARTIALLY_REFUNDED if remaining else Order.Status.REFUNDED
        order.amount_refunded = min(order.total, order.amount_refunded + amount)
        order.save(update_fields=["status", "amount_refunded", "updated_at"])
        refund = Refund.objects.create(
            order=order,
            amount=amount,
            currency=order.currency,
            reason=reason,
            note=note[:255],
            created_by=by if getattr(by, "pk", None) else None,
        )
        refund.tickets.set(chosen)
        events.refund_created(refund)
        if submit:
            transaction.on_commit(lambda: refund_submit(refund_id=refund.pk))
    refund.refresh_from_db()
    return refund


def refund_submit(*, refund_id: int, now=None) -> Refund:
    """Send a pending refund to the payment gateway (idempotent: the provider sees the same
    idempotency key however often this runs). Never raises for a provider failure: the refund
    is marked failed with the reason, for staff to retry."""
    refund = Refund.objects.select_related("order").get(pk=refund_id)
    if refund.status != Refund.Status.PENDING:
        return refund
    try:
        result = payments.get_gateway().refund(
            payment_intent_id=refund.order.stripe_payment_intent_id,
            amount_pence=payments.to_pence(refund.amount),
            idempotency_key=f"fairdraw-refund-{refund.pk}",
            metadata={"order_id": str(refund.order_id), "refund_id": str(refund.pk)},
        )
    except PaymentFailed as exc:
        logger.error("Refund %s of order %s failed: %s", refund.pk, refund.order, exc)
        Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING).update(
            status=Refund.Status.FAILED, failure_message=str(exc)[:500]
        )
    else:
        Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING).update(
            status=Refund.Status.SUCCEEDED,
            provider_refund_id=result.id,
            completed_at=now or timezone.now(),
        )
    refund.refresh_from_db()
    return refund


def refund_retry(*, refund: Refund) -> Refund:
    """Send a failed refund again (same idempotency key, so never paid out twice)."""
    Refund.objects.filter(pk=refund.pk, status=Refund.Status.FAILED).update(
        status=Refund.Status.PENDING, failure_message=""
    )
    return refund_submit(refund_id=refund.pk)


# ---------------------------------------------------------------- postal entries


def postal_entry_add(
    *, user, competition: Competition, quantity: int = 1, now=None
) -> list[Ticket]:
    """Free postal entries: the same sale rules and limits, the same chance, no order."""
    now = now or timezone.now()
    _check_eligible(user)
    if quantity < 1:
        raise ValueError("quantity must be positive")
    with transaction.atomic():
        # The customer's row first, as every path that gives a customer numbers (the module
        # docstring says why).
        user = _lock_customer(user.pk)
        locked = lock_competitions([competition.pk])[competition.pk]
        line = _Line(locked, answer=None, quantity=quantity)
        _check_line(competition=locked, user=user, line=line, now=now)
        numbers = _allocate(competition=locked, line=line)
        tickets = Ticket.objects.bulk_create(
            _tickets(
                competition=locked,
                user=user,
                order=None,
                numbers=numbers,
                status=Ticket.Status.ACTIVE,
                source=Ticket.Source.POSTAL,
                now=now,
            )
        )
        _count(locked.pk, sold=len(numbers), now=now)
    return tickets
