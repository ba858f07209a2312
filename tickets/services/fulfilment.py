"""A confirmed payment becomes tickets, exactly once; or, if it cannot, is refunded.

`order_fulfil` locks the customer's row, then the order, then the order's competitions
(ascending ids), as every path that gives a customer numbers does. The usual payment
(`_pay_pending`) decides everything it can before, proves with a compare-and-set claim
(pending -> paid) that nothing it read has changed, queues the confirmation, and last, per
competition, turns the reserved tickets active and moves the counters in one statement (the
ledger's trigger takes the competition's row for the first, the claim for the second), unless
a competition has been drawn or cancelled meanwhile (rules.paid_tickets_claim). Every other case (a
lapsed or released order, a payment to refund, a duplicate, a lost race, a competition closed
for good) is judged on the locked rows (`_fulfil_locked`). A drawn or cancelled competition
never gets new tickets: the payment is refunded automatically. `order_record_paid` is a
checkout and its payment in one transaction, for sales made outside online checkout.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from django.db import connection, transaction
from django.db.models import CharField, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from competitions.models import AnswerChoice, Competition
from competitions.services import skill_answers_record
from core.prepared import execute_prepared
from notifications.outbox import enqueue, enqueue_sql, enqueued

from .. import cards, events, locking, spending
from ..exceptions import AnswerRequired, TicketError
from ..instant_wins import instant_wins_award
from ..models import Order, OrderLine, Refund, Ticket
from .discounts import redemption_reclaim, redemption_release
from .receipts import (
    receipt_for_payment,
    receipt_insert,
    receipt_insert_sql,
    receipt_issue_after_commit,
    receipt_key_forget,
)
from .refunds import refund_queue
from .release import drop_reservations
from .reservations import order_reserve
from .rules import (
    CLOSED_FOR_GOOD,
    Line,
    LineRequest,
    allocate,
    check_eligible,
    check_line,
    counters_add,
    eligibility_problem,
    lock_customer_reading_settings,
    new_tickets,
    order_lines_loaded,
    paid_tickets_claim,
    ticket_status,
)


@dataclass
class Fulfilment:
    """What became of a payment: `outcome` for the provider event's record, and the refund
    if the money is going back."""

    outcome: str
    order: Order
    refund: Refund | None = None
    receipt: bool = False  # its receipt was written with the payment


def order_fulfil(
    *,
    order_id: int,
    amount_paid: Decimal | None = None,
    currency: str | None = None,
    payment_intent_id: str = "",
    session_id: str | None = None,
    card_funding: str = "",
    now=None,
    on_outcome=None,
) -> Fulfilment:
    """A payment for this order has been confirmed. Issue its tickets exactly once.

    A pending order's reserved tickets become active (invalid for a wrong answer). An order whose
    reservation lapsed is re-reserved if sales are open and the rules allow it (chosen numbers
    must still be free; lucky dips take any free numbers, spend limits and eligibility hold);
    otherwise, or if the payment does not match the order, or it was made by a credit card the
    code of practice refuses (tickets.cards), the money is refunded automatically and no ticket
    is created. `card_funding` is the paying card's type as the provider reported it.
    `on_outcome(outcome, order)`: called inside the payment's transaction once the outcome is
    known, before its last statement (the provider event's record, tickets.services
    .payment_events), so it commits with the payment."""
    now = now or timezone.now()
    payment = {
        "amount_paid": amount_paid,
        "currency": currency,
        "payment_intent_id": payment_intent_id,
        "session_id": session_id,
        "card_funding": card_funding,
        "on_outcome": on_outcome,
    }
    # The order with its lines, their competitions and answers, read before any lock: whose it
    # is and what it is for never change; everything else is checked again under the locks.
    # With each line's numbers: a pending order's are the ones it issues (see _pay_pending).
    lines = order_lines_loaded(order_id, numbers=True)
    order = lines[0].order if lines else Order.objects.get(pk=order_id)
    try:
        result = _fulfil(
            order=order, lines=lines, now=now, usual=order.status == Order.Status.PENDING, **payment
        )
    except _CompetitionClosed:  # all rolled back: judged again on the locked rows
        result = _fulfil(order=order, lines=lines, now=now, usual=False, **payment)
    if result.refund is None and result.order.status in Order.PAID_STATES and not result.receipt:
        # The usual payment writes its receipt itself. Otherwise it is signed once the payment
        # commits (idempotent: a redelivery of an order already paid issues a receipt only if
        # it is still missing).
        receipt_issue_after_commit(order_id=order.pk)
    return result


class _CompetitionClosed(Exception):
    """A competition of the order was drawn or cancelled while the usual payment was made."""


def _fulfil(
    *, order: Order, lines: list[OrderLine], now, usual: bool, on_outcome, **payment
) -> Fulfilment:
    with transaction.atomic():
        # The customer's row before anything else (as order_reserve): their payments queue
        # here, so two credit-card payments cannot both fit under the monthly cap.
        # The settings in force are read once, with it.
        user, operator = lock_customer_reading_settings(order.user_id)
        if usual:
            paid = _pay_pending(
                order=order,
                lines=lines,
                user=user,
                operator=operator,
                now=now,
                on_outcome=on_outcome,
                **payment,
            )
            if paid is not None:
                return paid
        result = _fulfil_locked(
            order_id=order.pk,
            competition_ids=[line.competition_id for line in lines],
            user=user,
            operator=operator,
            now=now,
            **payment,
        )
        if on_outcome is not None:
            on_outcome(result.outcome, result.order)
        return result


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
    *,
    order: Order,
    lines: list[OrderLine],
    user,
    operator,
    now,
    amount_paid,
    currency,
    on_outcome=None,
    **facts,
) -> Fulfilment | None:
    """The usual payment, with as little as possible done while holding the competitions' rows:
    a pending order paid in full, by a card the rules accept, by a customer still allowed to buy.

    All of that is decided first, from the customer's locked row and the order's amounts and
    lines (which never change), and the confirmation is built then too: a pending order's
    numbers are the ones it issues. A compare-and-set claim (pending -> paid) proves the order
    is still pending, so nothing read before has changed (a pending order's tickets only ever
    change with its status); its tickets turn active and the confirmation is queued. Last, the
    competitions' counters move, unless one was drawn or cancelled meanwhile: then
    _CompetitionClosed rolls it all back for the caller to judge on locked rows. None: not the
    usual case, for the caller to decide on locked rows."""
    order.user = user
    _take_payment(order, **facts)
    if _mismatch(order, amount_paid, currency):
        return None
    refusal = cards.credit_card_refusal(
        user=user, order=order, funding=order.card_funding, now=now, operator=operator
    )
    if refusal or eligibility_problem(user, now, operator):
        return None
    order.paid_at = now
    messages = events.order_paid_messages(order, lines=lines)
    receipt = receipt_for_payment(order=order, lines=lines, now=now)
    # The confirmation (what events.order_paid queues) and the receipt are written with the
    # claim of the order, in its statement.
    claimed, receipted = _claim_paid_writing(order, now=now, receipt=receipt, messages=messages)
    if not claimed:
        return None
    if receipt is not None and not receipted:
        receipt_key_forget()  # its key is not the published one: issued after commit instead
    # Before the claim below (the hot row is taken last, docs/architecture.md §3): the numbers
    # its correctly answered lines hold are still reserved here, and turn active in the claim.
    instant_wins_award(
        competitions=[
            x.competition for x in lines if ticket_status(x.answer) == Ticket.Status.ACTIVE
        ],
        order_id=order.pk,
        now=now,
        status=Ticket.Status.RESERVED,
    )
    # Last, each competition (ascending ids): its tickets turn active and its counters move in
    # one statement, which is when the competition's row is taken (rules.paid_tickets_claim).
    if on_outcome is not None:  # (rolled back with the rest if the claim below is refused)
        on_outcome("paid", order)
    competitions = {line.competition_id: line for line in lines}
    turns = [(x.competition, ticket_status(x.answer)) for _, x in sorted(competitions.items())]
    # The last statement: it carries the COMMIT where it can (rules.commits_with_claim), and
    # counts the skill-question answers (competitions.SkillAnswerStats) on the way.
    if not paid_tickets_claim(order.pk, turns, now=now, commit=True, answers=_answers(lines)):
        raise _CompetitionClosed()
    events.sales_counted([competition for competition, _ in turns])
    return Fulfilment("paid", order, receipt=receipted)


def _fulfil_locked(
    *, order_id: int, competition_ids, user, operator, now, amount_paid, currency, **facts
) -> Fulfilment:
    """order_fulfil on the locked rows, for every case: a lapsed or released order, a payment
    that must be refunded, a duplicate; and the usual one if `_pay_pending` found the order
    changed before it was locked."""
    # The order (locked) and its lines in one query, then its competitions.
    lines = list(
        OrderLine.objects.filter(order_id=order_id)
        .select_related("order", "answer")
        .select_for_update(of=("order",))
        .order_by("pk")
    )
    order = lines[0].order if lines else Order.objects.select_for_update().get(pk=order_id)
    locked = locking.lock_competitions(competition_ids)
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
        eligibility_problem(user, now, operator)
        if order.status == Order.Status.PENDING and not (mismatch or refused_card)
        else None
    )
    closed = any(locked[line.competition_id].status in CLOSED_FOR_GOOD for line in lines)
    if order.status == Order.Status.PENDING and not (mismatch or refused_card or barred or closed):
        for line in lines:
            converted = Ticket.objects.filter(
                order=order, competition_id=line.competition_id, status=Ticket.Status.RESERVED
            ).update(status=ticket_status(line.answer), purchased_at=now)
            counters_add(line.competition_id, sold=converted, reserved=-converted, now=now)
            line.competition.tickets_sold += converted
            line.competition.tickets_reserved -= converted
        _mark_paid(order, now=now)
        _count_answers(lines)
        instant_wins_award(competitions=locked.values(), order_id=order.pk, now=now)
        events.order_paid(order, competitions=locked.values())
        return Fulfilment("paid", order)

    if order.status == Order.Status.PENDING:
        drop_reservations(order_id=order.pk, now=now)
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
        _count_answers(lines)
        instant_wins_award(competitions=locked.values(), order_id=order.pk, now=now)
        events.order_paid(order, competitions=locked.values())
        return Fulfilment("paid after the reservation lapsed", order)

    # No tickets for this payment: its discount code's use comes back (services.discounts).
    redemption_release(order_id=order.pk, now=now)
    amount = amount_paid if amount_paid is not None else order.total
    order.status = Order.Status.REFUNDED
    order.paid_at = now
    order.amount_refunded = min(amount, order.total)
    order.save()
    refund = Refund.objects.create(
        order=order, amount=amount, currency=order.currency, reason=reason, note=problem[:255]
    )
    events.payment_refused(order, refund, problem)
    # Sent once this transaction commits, or by the sweeper if the broker is down then.
    refund_queue(refund=refund)
    return Fulfilment("refunded: " + problem, order, refund)


def _reissue(*, order: Order, user, lines: list[OrderLine], locked, operator, now) -> str | None:
    """Issue a lapsed order's tickets afresh if the customer may still buy them, as a new
    checkout would (eligibility, every line's sale rules, spend limits); otherwise write nothing
    and say why (for the customer). `user` is the customer's locked row."""
    try:
        with transaction.atomic():
            check_eligible(user, now, operator)
            wanted = []
            for line in lines:
                competition = locked[line.competition_id]
                chosen = list(line.chosen_numbers or [])
                wanted.append(Line(competition, line.answer, line.quantity - len(chosen), chosen))
                check_line(competition=competition, user=user, line=wanted[-1], now=now)
            # The order holds nothing now (its reservation lapsed or was just dropped, and the
            # lines were checked above), so `monthly_spend` does not count it a second time.
            spending.spend_check(user=user, amount=order.total, now=now, operator=operator)
            redemption_reclaim(order=order, user=user, now=now)
            tickets = []
            for line, want in zip(lines, wanted, strict=True):
                competition = locked[line.competition_id]
                numbers = allocate(competition=competition, line=want)
                tickets += new_tickets(
                    competition=competition,
                    user=user,
                    order=order,
                    numbers=numbers,
                    status=ticket_status(line.answer),
                    source=Ticket.Source.PAID,
                    now=now,
                )
                counters_add(competition.pk, sold=len(numbers), now=now)
                competition.tickets_sold += len(numbers)
            Ticket.objects.bulk_create(tickets)
    except TicketError as exc:
        return str(exc)
    return None


def _answers(lines: list[OrderLine]) -> list[tuple[int, bool]]:
    """(competition id, answered correctly?) per line: what the skill figures count."""
    return [(line.competition_id, line.answer.is_correct) for line in lines]


def _count_answers(lines: list[OrderLine]) -> None:
    """The skill-question figures staff watch (competitions.SkillAnswerStats): one answer per
    line of a paid order, counted once the payment has committed, so the sale holds no extra
    row and adds no statement while it holds the competitions' rows. A crash between the
    commit and the count loses one answer from a figure that is a rate: accepted; a failed
    count is logged and never fails the payment (robust)."""
    transaction.on_commit(partial(skill_answers_record, answers=_answers(lines)), robust=True)


def _mark_paid(order: Order, *, now) -> None:
    if not _claim_paid(order, now=now):  # we hold the row lock, so this means a bug, not a race
        raise RuntimeError(f"Order {order.pk} changed while being paid.")


def _claim_paid_writing(order: Order, *, now, receipt, messages) -> tuple[bool, bool]:
    """`_claim_paid`, and only if the claim succeeds, the order's receipt (`receipt`:
    receipts.receipt_for_payment's, or None) and the confirmation (`messages`, for the outbox:
    events.order_paid_messages) written: on PostgreSQL one statement. (claimed, receipt
    written)."""
    if connection.vendor != "postgresql":
        claimed = _claim_paid(order, now=now)
        if not claimed:
            return False, False
        enqueue(messages)
        return True, receipt is not None and receipt_insert(receipt)
    table = Order._meta.db_table
    claim = (
        f"UPDATE {table} SET status = %s, paid_at = %s, stripe_payment_intent_id = %s,"
        " stripe_checkout_session_id = COALESCE(stripe_checkout_session_id, %s),"
        " card_funding = %s, updated_at = %s WHERE id = %s AND status = %s RETURNING id"
    )
    at = connection.ops.adapt_datetimefield_value(now)
    params = [Order.Status.PAID, at, order.stripe_payment_intent_id]
    params += [order.stripe_checkout_session_id, order.card_funding, at, order.pk, order.status]
    ctes = [f"claimed AS ({claim})"]
    written, noted = "0", "NULL::bigint[], NULL::text[]"
    if receipt is not None:
        insert, insert_params = receipt_insert_sql(receipt, source="claimed")
        ctes.append(f"written AS ({insert})")
        params += insert_params
        written = "(SELECT count(*) FROM written)"
    if any(messages):
        insert, insert_params = enqueue_sql(messages, when="EXISTS (SELECT 1 FROM claimed)")
        ctes.append(f"noted AS ({insert})")
        params += insert_params
        noted = "ARRAY(SELECT id FROM noted), ARRAY(SELECT idempotency_key FROM noted)"
    sql = f"WITH {', '.join(ctes)} SELECT (SELECT count(*) FROM claimed), {written}, {noted}"
    with connection.cursor() as cursor:
        execute_prepared(cursor, sql, params)
        claimed, receipts_written, note_ids, note_keys = cursor.fetchone()
    if claimed != 1:
        return False, False
    order.status = Order.Status.PAID
    order.paid_at = now
    enqueued(messages, dict(zip(note_keys or [], note_ids or [], strict=True)))
    return True, receipts_written == 1


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
