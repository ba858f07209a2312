"""Holding numbers for a customer's basket, and sending them to pay for them.

`line_check` tells the customer early (no lock, nothing written) what checkout would refuse.
`order_reserve` validates and loads the cart outside any lock, then, in one transaction, locks
the customer's row, re-checks every line and writes the pending order, its lines and its
reserved tickets (held `FAIRDRAW_RESERVATION_MINUTES`; lucky dips picked again if another buyer
took a number first: rules.tickets_insert), and last claims each competition's counters in one
conditional statement (ascending id, short timeout: rules.counters_claim), which refuses the
whole checkout if the quota, the sale window or the price no longer allow it. So a popular
competition's row is held only from that statement to the commit. What the customer holds is
counted under their row lock, because it can only grow under that lock (tickets.services).
`order_checkout_start` opens the payment provider's checkout for the pending order.

One open checkout per customer: `order_reserve` gives back the numbers of the customer's
previous pending order (cancelled, its checkout page closed after commit) in the same
transaction that holds the new ones, so nobody can hold a competition's numbers with a pile
of open checkouts. Reserving also needs a confirmed e-mail address (rules.check_eligible).

Prices (tickets.pricing: bundles, then the discount code) are worked out before the
transaction from the rows read, never from what the browser posted; the counters' claim
refuses the order if a single price changed meanwhile. A code's use is counted under the
customer's lock (their count) and on the code's row (the total), after the tickets and before
the competitions' rows (tickets.services.discounts).

On PostgreSQL a checkout of lucky dips without a code is five statements in four round trips,
each written out with an ORM twin that SQLite runs (tests/tickets/test_standing.py holds them
equal): the answers with their competitions and bundles (rules.answers_with_bundles_loaded);
then, in the transaction, the customer's row locked with the operator settings and whether
their e-mail is confirmed, and after it, in the same query string, their standing (`standing`;
rules.lock_customer_then), the order with its lines (`order_insert_ahead`) sent in one query
string with the savepoint and the tickets (rules.tickets_insert), and the counters' claim
carrying the COMMIT (docs/architecture.md §8, "Checkout under load"). Each is prepared once a
connection (core.prepared).
"""

from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from functools import cache, partial
from types import SimpleNamespace

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from competitions.models import Competition
from core.prepared import execute_prepared
from responsible_play.limits import month_bounds
from responsible_play.models import SpendLimit

from .. import allocation, cards, events, payments, pricing, spending
from ..exceptions import CodeRefused, LimitReached, NumberTaken, PaymentFailed, SoldOut
from ..models import Order, OrderLine, Ticket
from . import discounts
from .release import (
    order_release,
    queue_checkout_expiry,
    release_claim,
    reservations_release_expired,
)
from .rules import (
    RELEASED_STATES,
    Ahead,
    ClaimRefused,
    Line,
    LineRequest,
    check_eligible,
    check_line,
    check_on_sale,
    claim_refusal,
    counters_add,
    held_by,
    holdings,
    lock_customer_then,
    prepare_lines,
    sale_claim,
    statuses,
    tickets_insert,
)


def line_check(*, user, competition: Competition, answer_id, quantity: int, numbers) -> None:
    """The rules a basket line can be held to before checkout (no lock, nothing written):
    raises the same errors checkout would, so the customer hears early. Checkout re-checks."""
    now = timezone.now()
    (line,) = prepare_lines(
        [LineRequest(competition.pk, answer_id, quantity=quantity, numbers=tuple(numbers))]
    )
    competition = line.competition
    check_on_sale(competition, now)
    if line.count > competition.tickets_left:
        raise SoldOut(
            f"Only {competition.tickets_left} tickets left for “{competition.title}”."
            if competition.tickets_left
            else f"“{competition.title}” is sold out."
        )
    held = held_by(user, competition.pk) if user is not None and user.is_authenticated else 0
    if held + line.count > competition.max_tickets_per_user:
        raise LimitReached(
            f"You can hold at most {competition.max_tickets_per_user} tickets for "
            f"“{competition.title}”" + (f"; you have {held}." if held else ".")
        )
    taken = allocation.taken_among(competition.pk, line.numbers)
    if taken:
        raise NumberTaken(taken)


def order_reserve(*, user, lines: Sequence[LineRequest], now=None, code: str = "") -> Order:
    """Hold numbers for a customer's cart in a pending order until `reserved_until`.

    Validates and loads outside the lock; inside it, re-checks every line (sales open, quota,
    per-customer limit across all orders, chosen numbers free), picks lucky-dip numbers and
    writes the order, its lines and its reserved tickets. All or nothing. Lapsed reservations
    standing in the way (a line short of numbers, over the limit, or wanting a held number) are
    released and the cart tried once more; otherwise the periodic task releases them.
    `code`: the discount code the customer entered (CodeRefused if it does not apply)."""
    now = now or timezone.now()
    prepared = prepare_lines(lines, bundles=True)
    offer = _Offer(prepared, code, now)
    try:
        return _reserve(user=user, prepared=prepared, now=now, offer=offer)
    except (SoldOut, LimitReached, NumberTaken):
        # Each release takes its own transaction and locks (ascending ids), never inside ours.
        ids = [line.competition.pk for line in prepared]
        if not reservations_release_expired(competition_ids=ids, now=now):
            raise
        for line in prepared:  # the numbers just released count now
            line.competition.refresh_from_db(fields=["tickets_sold", "tickets_reserved"])
        return _reserve(user=user, prepared=prepared, now=now, offer=offer)


class _Offer:
    """The order's prices (tickets.pricing), worked out before any lock."""

    def __init__(self, prepared: list[Line], code_text: str, now):
        bundles = {x.competition.pk: x.bundles for x in prepared}  # loaded with the lines
        self.lines = {x.competition.pk: x for x in pricing.price_lines(prepared, bundles=bundles)}
        self.code = pricing.code_find(code_text) if code_text else None
        self.discount = Decimal("0")
        if self.code is not None:
            problem = pricing.code_refusal(self.code, now=now)
            if problem:
                raise CodeRefused(problem)
            self.discount = pricing.apply_code(list(self.lines.values()), self.code)
        self.total = sum((x.total for x in self.lines.values()), Decimal("0"))


def _reserve(*, user, prepared: list[Line], now, offer: _Offer) -> Order:
    prices = {line.competition.pk: line.competition.ticket_price for line in prepared}
    try:
        return _reserve_once(user=user, prepared=prepared, now=now, offer=offer)
    except ClaimRefused:  # the last claim carried the COMMIT: rolled back, say why
        competition = max((x.competition for x in prepared), key=lambda c: c.pk)  # claimed last
        raise claim_refusal(competition, price=prices[competition.pk], now=now) from None


def _reserve_once(*, user, prepared: list[Line], now, offer: _Offer) -> Order:
    ids = [line.competition.pk for line in prepared]
    total = offer.total
    with transaction.atomic():
        # The customer's row before any competition's (always in that order): two checkouts
        # of one customer queue here, so they cannot both fit under the spend limit, and what
        # they hold cannot grow until this commits (see the module docstring), so it is counted
        # here.
        # The operator settings are read with it, once for this purchase, and passed to every
        # rule that needs them. Eligibility is judged here, on the fresh row, and nothing
        # before it is written.
        # Their standing (below) is read by the statement after the lock's, in its round trip.
        user, operator, row = lock_customer_then(
            user.pk, email=True, then=_standing_statement(user.pk, ids, now)
        )
        check_eligible(user, now, operator, reserving=True, email_confirmed=user.email_confirmed)
        # The customer's open checkout, if any, is given back below, so its money no longer
        # counts against their limit (orders are only made under the customer's lock, so the
        # set cannot change meanwhile).
        previous, spend, held = standing(user, ids, now, row=row)
        releasing = sum({o: t for o, _, t, _ in previous}.values(), Decimal("0"))
        if offer.code is not None:
            discounts.redemption_check(
                code=offer.code, user=user, now=now, releasing={o for o, *_ in previous}
            )
        spending.spend_check(
            user=user,
            amount=total,
            now=now,
            operator=operator,
            releasing=releasing,
            position=spending.position_of(spend, spending.operator_cap(operator)),
        )
        # The order and its lines at the prices read before: nobody else can see them yet, and
        # the counters' claim below refuses the order if a price has changed since. Saved with
        # its tickets, below.
        order = Order(
            user=user,
            status=Order.Status.PENDING,
            currency=settings.FAIRDRAW_CURRENCY,
            total=total,
            reserved_until=now + timedelta(minutes=settings.FAIRDRAW_RESERVATION_MINUTES),
        )
        order_lines = [
            OrderLine(
                competition=line.competition,
                quantity=line.count,
                chosen_numbers=line.numbers,
                answer=line.answer,
                unit_price=line.competition.ticket_price,
                line_total=priced.total,
                bundle_discount=priced.price.saving,
                code_discount=priced.code_discount,
                bundles=priced.price.as_json(),
            )
            for line in prepared
            for priced in [offer.lines[line.competition.pk]]
        ]
        given_back: Counter = Counter()
        for order_id, until in sorted({(o, u) for o, _, _, u in previous}):
            given_back += (
                release_claim(
                    order_id=order_id,
                    # Lapsed already: expired, as the sweep would call it; else given up.
                    reason=Order.Status.EXPIRED if until <= now else Order.Status.CANCELLED,
                    only_if_lapsed=False,
                    expire_checkout=True,
                    now=now,
                )
                or Counter()
            )
        # Their code uses too: marked here, counted on the codes' rows after the tickets.
        released = discounts.redemptions_release(order_ids={o for o, *_ in previous}, now=now)
        if given_back:  # numbers just freed count for this checkout
            held = holdings(user, ids)
            for line in prepared:
                line.competition.refresh_from_db(fields=["tickets_sold", "tickets_reserved"])
                line.competition.tickets_reserved -= given_back[line.competition.pk]
        # The rules on the competitions as read just before: the claim of their counters below
        # is what decides, on their locked rows; this tells the customer which rule stops them.
        for line in prepared:
            check_line(
                competition=line.competition,
                user=user,
                line=line,
                now=now,
                held=held.get(line.competition.pk, 0),
            )
        tickets_insert(
            prepared,
            user=user,
            order=order,
            status=Ticket.Status.RESERVED,
            source=Ticket.Source.PAID,
            now=now,
            ahead=order_insert_ahead(order, order_lines),
        )
        events.order_reserved(order, lines=order_lines)
        if offer.code is not None:
            discounts.redemption_claim(
                code=offer.code, order=order, amount=offer.discount, now=now, released=released
            )
        elif released:
            discounts.code_uses_move(released)
        _claim_counters(prepared, given_back=given_back, now=now)
    return order


def standing(
    user, competition_ids, now, *, row: tuple | None = None
) -> tuple[list[tuple], object, dict[int, int]]:
    """What a checkout judges the customer by, read under their row lock: their pending
    orders' lines (order id, competition id, order total, reserved until), their spend this
    month (a row as `spending.spend_annotations` annotates it) and what they hold in these
    competitions (`holdings`). On PostgreSQL in one statement, its SQL twin of the ORM's reads
    (tests/tickets/test_standing.py holds them equal); `row`: that statement's row if it was
    read already (sent after the lock's, `_standing_statement`)."""
    if row is not None:
        return _standing_from_row(row)
    if connection.vendor != "postgresql":
        previous = list(
            OrderLine.objects.filter(order__user_id=user.pk, order__status=Order.Status.PENDING)
            .order_by()
            .values_list("order_id", "competition_id", "order__total", "order__reserved_until")
        )
        return previous, spending.spend_row(user, now), holdings(user, competition_ids)
    with connection.cursor() as cursor:
        execute_prepared(cursor, *_standing_statement(user.pk, competition_ids, now))
        return _standing_from_row(cursor.fetchone())


def _standing_statement(user_id: int, competition_ids, now) -> tuple[str, list]:
    """`standing`'s statement on PostgreSQL and its parameters."""
    start, end = month_bounds(now)
    params = [user_id, start, end, user_id, now, user_id, now, user_id, user_id]
    return _standing_sql(), [*params, list(competition_ids)]


@cache
def _standing_sql() -> str:
    # The statuses are the code's constants, written into the statement (rules.statuses).
    paid, pending = statuses(Order.PAID_STATES), statuses([Order.Status.PENDING])
    live = statuses(allocation.HOLDING_STATUSES)
    return f"""
        SELECT
            (SELECT COALESCE(SUM(total - amount_refunded), 0) FROM {Order._meta.db_table}
             WHERE user_id = %s AND status IN ({paid}) AND paid_at >= %s AND paid_at < %s),
            (SELECT COALESCE(SUM(total), 0) FROM {Order._meta.db_table}
             WHERE user_id = %s AND status = {pending} AND reserved_until > %s),
            (SELECT monthly_limit FROM {SpendLimit._meta.db_table}
             WHERE user_id = %s AND cancelled_at IS NULL AND effective_at <= %s
             ORDER BY requested_at DESC, id DESC LIMIT 1),
            previous.orders, previous.competitions, previous.totals, previous.untils,
            held.competitions, held.counts
        FROM
            (SELECT array_agg(line.order_id) AS orders,
                array_agg(line.competition_id) AS competitions,
                array_agg(o.total) AS totals, array_agg(o.reserved_until) AS untils
             FROM {OrderLine._meta.db_table} line
             JOIN {Order._meta.db_table} o ON o.id = line.order_id
             WHERE o.user_id = %s AND o.status = {pending}) AS previous,
            (SELECT array_agg(competition_id) AS competitions, array_agg(n) AS counts
             FROM (SELECT competition_id, count(*) AS n FROM {Ticket._meta.db_table}
                   WHERE user_id = %s AND competition_id = ANY(%s) AND status IN ({live})
                   GROUP BY competition_id) AS t) AS held
    """


def _standing_from_row(row) -> tuple[list[tuple], object, dict[int, int]]:
    month_paid, month_held, personal, *rest = row
    orders, competitions, totals, untils, held_in, counts = (x or [] for x in rest)
    spend = SimpleNamespace(month_paid=month_paid, month_held=month_held, personal_limit=personal)
    previous = list(zip(orders, competitions, totals, untils, strict=True))
    return previous, spend, dict(zip(held_in, counts, strict=True))


def order_insert(order: Order, lines: list[OrderLine]) -> None:
    """Save a new order and its lines (unsaved, all of this order), as `order.save()` and
    `OrderLine.objects.bulk_create(lines)` would: defaults and auto_now values filled in on the
    objects, their pks set, and each line's `order` the order. On PostgreSQL in one statement
    (`INSERT` the order in a `WITH` whose id the lines' `INSERT` takes; its ORM twin runs on
    SQLite, and tests/tickets/test_standing.py holds them equal)."""
    ahead = order_insert_ahead(order, lines)
    if ahead is not None:
        ahead.run()


def order_insert_ahead(order: Order, lines: list[OrderLine]) -> Ahead | None:
    """`order_insert` as a statement for rules.tickets_insert to send in the query string of
    its first (one round trip for the order, its lines and its tickets); on SQLite the order is
    saved at once (None)."""
    if connection.vendor != "postgresql":
        order.save(force_insert=True)
        for line in lines:
            line.order = order
        OrderLine.objects.bulk_create(lines)
        return None
    sql, order_fields, line_fields = _order_insert_sql(len(lines))
    db = connections[connection.alias]  # not the proxy: each field below asks it for its ops
    params = [f.get_db_prep_save(f.pre_save(order, True), db) for f in order_fields]
    params += [
        f.get_db_prep_save(f.pre_save(line, True), db) for line in lines for f in line_fields
    ]
    return Ahead(sql, params, partial(_order_inserted, order, lines))


def _order_inserted(order: Order, lines: list[OrderLine], rows) -> None:
    """The pks `order_insert`'s statement returned (the lines' in the order of VALUES, as
    bulk_create relies on), set on the objects."""
    order.pk = rows[0][1]
    order._state.adding, order._state.db = False, connection.alias
    for line, (pk, _) in zip(lines, rows, strict=True):
        line.pk, line.order = pk, order
        line._state.adding, line._state.db = False, connection.alias


@cache
def _order_insert_sql(count: int) -> tuple[str, list, list]:
    """`order_insert`'s statement for `count` lines, and the fields whose values it takes."""
    quote = connection.ops.quote_name
    order_fields = [f for f in Order._meta.concrete_fields if not f.primary_key]
    line_fields = [
        f for f in OrderLine._meta.concrete_fields if not f.primary_key and f.name != "order"
    ]
    values = "(" + ", ".join(["%s"] * len(order_fields)) + ")"
    line_values = "((SELECT id FROM placed), " + ", ".join(["%s"] * len(line_fields)) + ")"
    sql = (
        f"WITH placed AS (INSERT INTO {quote(Order._meta.db_table)}"
        f" ({', '.join(quote(f.column) for f in order_fields)}) VALUES {values} RETURNING id)"
        f" INSERT INTO {quote(OrderLine._meta.db_table)}"
        f" ({quote(OrderLine._meta.get_field('order').column)},"
        f" {', '.join(quote(f.column) for f in line_fields)})"
        f" VALUES {', '.join([line_values] * count)} RETURNING id, order_id"
    )
    return sql, order_fields, line_fields


def _claim_counters(prepared: list[Line], *, given_back: Counter, now) -> None:
    """Last, just before commit: each competition's counters (ascending ids), the only moment a
    checkout holds a competition's row. A line the counters no longer allow rolls it all back.
    The last claim carries the COMMIT where it can (rules.commits_with_claim)."""
    lines = {line.competition.pk: line for line in prepared}
    ids = sorted({*lines, *given_back})
    for competition_id in ids:
        line = lines.get(competition_id)
        if line is None:  # only the previous checkout held numbers here
            counters_add(competition_id, reserved=-given_back[competition_id], now=now)
            continue
        sale_claim(
            line.competition,
            reserved=line.count - given_back[competition_id],
            now=now,
            commit=competition_id == ids[-1],
        )


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
            transaction.on_commit(partial(queue_checkout_expiry, order.pk), robust=True)
        raise PaymentFailed("Your numbers are no longer held. Please check out again.")
    return session.url
