"""The sale rules and the bookkeeping every path that gives out or takes back numbers shares.

Reserving, fulfilling a payment, re-issuing a lapsed order, postal entries and refunds all judge
a customer and a competition by the same checks and move the same counters; they live here
once. Nothing in this module opens a transaction: callers do (tickets.services says in which
order they take their locks). A sale checks its lines on fresh rows (`check_line`), writes its
tickets (`tickets_insert`: the unique index on live numbers settles a race for a number) and
takes each competition's row last, in the one statement that moves its counters only if they
still allow it (`counters_claim`).
"""

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache

from django.conf import settings
from django.db import (
    DEFAULT_DB_ALIAS,
    DataError,
    IntegrityError,
    connection,
    connections,
    transaction,
)
from django.db.models import Count, F
from django.utils import timezone

from accounts.models import ExclusionKind, User
from accounts.selectors import email_verified, email_verified_exists, email_verified_sql
from accounts.services import age_verification_needed_message
from competitions.lifecycle import FINAL, LIVE, Status
from competitions.models import AnswerChoice, Bundle, Competition
from competitions.services import (
    skill_answer_totals,
    skill_answers_record,
    skill_answers_upsert_sql,
)
from core.models import OperatorSettings
from core.prepared import execute_prepared, execute_prepared_parts

from .. import allocation, locking, pricing
from ..exceptions import (
    AnswerRequired,
    Busy,
    CartEmpty,
    LimitReached,
    NotEligible,
    NumberTaken,
    SalesClosed,
    SoldOut,
)
from ..models import Order, OrderLine, Ticket

RELEASED_STATES = (Order.Status.EXPIRED, Order.Status.CANCELLED)
# A drawn or cancelled competition is locked for good: no purchase, no payment turns into
# tickets (a late one is refunded), no refund once drawn.
CLOSED_FOR_GOOD = FINAL  # drawn or cancelled: competitions.lifecycle's one definition


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
class Line:
    """A LineRequest checked and loaded (competition and answer), ready to be held to the
    rules under the lock."""

    competition: Competition
    answer: AnswerChoice
    quantity: int
    numbers: list[int] = field(default_factory=list)
    bundles: list[Bundle] | None = None  # the competition's, if loaded with it (for pricing)

    @property
    def count(self) -> int:
        return self.quantity + len(self.numbers)


CONFIRM_EMAIL_FIRST = (
    "Confirm your e-mail first: open the link we sent to {email} (or ask for a new one from "
    "your basket or your details page), then come back to enter."
)


def check_eligible(
    user, now=None, operator=None, *, reserving: bool = False, email_confirmed: bool | None = None
) -> None:
    """`operator`: the OperatorSettings row this purchase read (default: read it).
    `reserving`: a customer's own checkout, which also needs a confirmed e-mail address (no
    mass of throw-away accounts holding numbers); payments for numbers already held and
    postal entries do not ask again. `email_confirmed`: whether it is, if read already
    (`lock_customer_reading_settings(..., email=True)`; default: read it)."""
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
    if email_confirmed is None and reserving:
        email_confirmed = email_verified(user)
    if reserving and not email_confirmed:
        raise NotEligible(CONFIRM_EMAIL_FIRST.format(email=user.email))


def eligibility_problem(user, now, operator=None) -> str | None:
    """Why the customer may not buy at `now` (for them to read), or None."""
    try:
        check_eligible(user, now, operator)
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


def prepare_lines(lines: Sequence[LineRequest], *, bundles: bool = False) -> list[Line]:
    """Everything that can be checked without a lock: answers, number ranges, duplicates.
    `bundles`: load each competition's bundles too (`Line.bundles`), to price the lines."""
    if not lines:
        raise CartEmpty("Your basket is empty.")
    # The answers bring their competitions (and their bundles: one query on PostgreSQL); only a
    # line without a fitting answer, which is refused below, costs another.
    answer_ids = [line.answer_id for line in lines if line.answer_id]
    if bundles:
        answers, found = answers_with_bundles_loaded(answer_ids)
    else:
        answers, found = answers_loaded(answer_ids), {}
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
        prepared.append(
            Line(
                competition,
                answer,
                line.quantity,
                numbers,
                found.get(competition.pk, []) if bundles else None,
            )
        )
    return prepared


def held_by(user, competition_id: int) -> int:
    """Tickets the customer holds in a competition across all orders and postal entries."""
    return (
        Ticket.objects.filter(
            competition_id=competition_id, user=user, status__in=allocation.HOLDING_STATUSES
        )
        .order_by()
        .count()
    )


def holdings(user, competition_ids) -> dict[int, int]:
    """`held_by` for several competitions in one query (absent: none held)."""
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


def lock_customer(user_id: int) -> User:
    """Lock the customer's row (before any competition's, always) and return it fresh."""
    return User.objects.select_for_update().get(pk=user_id)


def lock_customer_reading_settings(
    user_id: int, *, email: bool = False
) -> tuple[User, OperatorSettings]:
    """`lock_customer`, and the operator settings in force (`OperatorSettings.current()`) read
    in the same statement on PostgreSQL: a purchase reads both first thing in its transaction.
    `email`: the customer comes annotated with `email_confirmed`, whether they have confirmed
    the address they log in with (accounts.selectors.email_verified), read in that statement
    too (on SQLite, the ORM's annotation; tests/tickets/test_standing.py holds them equal).
    Both are read as the statement began, before any wait for the lock (only the customer's row
    is read again once locked): fine for settings and a confirmation, which a checkout may see
    a moment late, but not for what the lock guards (`standing` reads that after it)."""
    user, operator, _ = lock_customer_then(user_id, email=email)
    return user, operator


def lock_customer_then(
    user_id: int, *, email: bool = False, then: tuple[str, list] | None = None
) -> tuple[User, OperatorSettings, tuple | None]:
    """`lock_customer_reading_settings`, and on PostgreSQL `then` (a statement and its
    parameters) in the same round trip, as a statement of its own after the lock's: it begins
    once the lock is granted, so it reads all that committed before (READ COMMITTED takes a
    snapshot a statement). Its first row is the third value (None on SQLite, where `then` is
    not run)."""
    if connection.vendor != "postgresql":
        customers = User.objects.select_for_update()
        if email:
            customers = customers.annotate(email_confirmed=email_verified_exists())
        return customers.get(pk=user_id), OperatorSettings.current(), None
    users, settings_ = User._meta.concrete_fields, OperatorSettings._meta.concrete_fields
    with connection.cursor() as cursor:
        execute_prepared_parts(cursor, [(_lock_customer_sql(email), [user_id]), then or ""])
        row = cursor.fetchone()
        after = None
        if then is not None:
            cursor.nextset()
            after = cursor.fetchone()
    if row is None:
        raise User.DoesNotExist(f"No customer {user_id}.")
    user = _from_row(User, row[: len(users)])
    if email:
        user.email_confirmed = row[-1]
    if row[len(users)] is None:  # never saved in admin: the first values (as current())
        return user, OperatorSettings(pk=1, **OperatorSettings.defaults()), after
    return user, _from_row(OperatorSettings, row[len(users) : len(users) + len(settings_)]), after


@cache
def _lock_customer_sql(email: bool) -> str:
    users, settings_ = User._meta.concrete_fields, OperatorSettings._meta.concrete_fields
    quote = connection.ops.quote_name
    columns = [f"u.{quote(f.column)}" for f in users] + [f"s.{quote(f.column)}" for f in settings_]
    if email:
        columns.append(email_verified_sql("u"))
    return (
        f"SELECT {', '.join(columns)} FROM {quote(User._meta.db_table)} u"
        f" LEFT JOIN {quote(OperatorSettings._meta.db_table)} s ON s.id = 1"
        " WHERE u.id = %s FOR UPDATE OF u"
    )


def order_lines_loaded(order_id: int, *, numbers: bool = False) -> list[OrderLine]:
    """An order's lines (by id) with their order, competition and answer loaded, as
    `select_related("order", "competition", "answer")` would: one statement, on PostgreSQL
    written out (`_select_related`). `numbers`: each line's `ticket_numbers` too, the numbers
    the order holds in its competition (not refunded, ascending), in the same statement on
    PostgreSQL."""
    if connection.vendor != "postgresql":
        lines = list(
            OrderLine.objects.filter(order_id=order_id)
            .select_related("order", "competition", "answer")
            .order_by("pk")
        )
        if numbers:
            held: dict[int, list[int]] = {}
            tickets = Ticket.objects.filter(order_id=order_id).exclude(
                status=Ticket.Status.REFUNDED
            )
            for competition_id, number in tickets.order_by("number").values_list(
                "competition_id", "number"
            ):
                held.setdefault(competition_id, []).append(number)
            for line in lines:
                line.ticket_numbers = held.get(line.competition_id, [])
        return lines
    held = (
        f"ARRAY(SELECT t.number FROM {Ticket._meta.db_table} t WHERE t.order_id = m.order_id"
        f" AND t.competition_id = m.competition_id AND t.status <> '{Ticket.Status.REFUNDED}'"
        " ORDER BY t.number)"
    )
    return _select_related(
        OrderLine,
        {"order": Order, "competition": Competition, "answer": AnswerChoice},
        where="order_id = %s",
        params=[order_id],
        annotations={"ticket_numbers": held} if numbers else None,
    )


def answers_loaded(answer_ids) -> dict[int, AnswerChoice]:
    """`AnswerChoice.objects.select_related("competition").in_bulk(answer_ids)`, on PostgreSQL
    written out (`_select_related`)."""
    if connection.vendor != "postgresql" or not answer_ids:
        return AnswerChoice.objects.select_related("competition").in_bulk(answer_ids)
    answers = _select_related(
        AnswerChoice, {"competition": Competition}, where="id = ANY(%s)", params=[answer_ids]
    )
    return {answer.pk: answer for answer in answers}


def answers_with_bundles_loaded(answer_ids) -> tuple[dict[int, AnswerChoice], dict[int, list]]:
    """`answers_loaded`, and the bundles of their competitions as `pricing.bundles_for` reads
    them ({competition id: [Bundle]}, absent: none): on PostgreSQL in the same statement (an
    array per competition), so pricing a checkout costs no round trip of its own."""
    if connection.vendor != "postgresql" or not answer_ids:
        answers = answers_loaded(answer_ids)
        return answers, pricing.bundles_for({a.competition_id for a in answers.values()})
    bundle = Bundle._meta
    columns = ", ".join(f"b.{connection.ops.quote_name(f.column)}" for f in bundle.concrete_fields)
    found = (
        f"ARRAY(SELECT ARRAY[{columns}] FROM {bundle.db_table} b"
        " WHERE b.competition_id = r0.id ORDER BY b.quantity)"
    )
    answers = _select_related(
        AnswerChoice,
        {"competition": Competition},
        where="id = ANY(%s)",
        params=[answer_ids],
        annotations={"bundle_rows": found},
    )
    bundles: dict[int, list] = {}
    names = [f.attname for f in bundle.concrete_fields]
    for answer in answers:
        rows = answer.__dict__.pop("bundle_rows")
        if rows and answer.competition_id not in bundles:
            bundles[answer.competition_id] = [
                Bundle.from_db(connection.alias, names, _bundle_values(row)) for row in rows
            ]
    return {answer.pk: answer for answer in answers}, bundles


def _bundle_values(row) -> list:
    """A bundle row as the numeric array brings it: whole numbers back to int, price Decimal."""
    return [
        value if f.name == "price" else int(value)
        for f, value in zip(Bundle._meta.concrete_fields, row, strict=True)
    ]


def _select_related(model, related: dict, *, where: str, params, annotations=None) -> list:
    """Rows of `model` (`where` on its own columns) with the objects its non-null foreign keys
    `related` ({field name: model}) point to, in one statement ordered by id, built with
    `Model.from_db`: what select_related does, for a fraction of the ORM's CPU on a checkout's
    hot path (compiling the query takes longer than the database runs it). `annotations`:
    {attribute: SQL expression (the model's row is `m`, the related rows r0, r1, ...)}, set on
    each row's object as annotate() would."""
    annotations = annotations or {}
    parts = [(model, None), *((target, name) for name, target in related.items())]
    sql = _select_related_sql(model, tuple(related.items()), where, tuple(annotations.values()))
    with connection.cursor() as cursor:
        execute_prepared(cursor, sql, params)
        rows = cursor.fetchall()
    loaded = []
    for row in rows:
        start, objects = 0, {}
        for part, name in parts:
            fields = part._meta.concrete_fields
            objects[name] = _from_row(part, row[start : start + len(fields)])
            start += len(fields)
        obj = objects.pop(None)
        for name, related_obj in objects.items():
            setattr(obj, name, related_obj)
        for name, value in zip(annotations, row[start:], strict=True):
            setattr(obj, name, value)
        loaded.append(obj)
    return loaded


@cache
def _select_related_sql(model, related: tuple, where: str, annotations: tuple) -> str:
    quote = connection.ops.quote_name
    parts = [(model, "m")] + [(target, f"r{i}") for i, (_, target) in enumerate(related)]
    columns = [f"{a}.{quote(f.column)}" for m, a in parts for f in m._meta.concrete_fields]
    joins = "".join(
        f" JOIN {quote(target._meta.db_table)} r{i}"
        f" ON r{i}.id = m.{quote(model._meta.get_field(name).column)}"
        for i, (name, target) in enumerate(related)
    )
    return (
        f"SELECT {', '.join([*columns, *annotations])} FROM {quote(model._meta.db_table)} m{joins}"
        f" WHERE m.{where} ORDER BY m.id"
    )


def _from_row(model, values):
    """`model.from_db` of a row of its concrete fields' `values`, each through its field's
    converter."""
    converters, names = _row_shape(model)
    db = connections[DEFAULT_DB_ALIAS]
    values = [
        v if convert is None or v is None else convert(v, None, db)
        for convert, v in zip(converters, values, strict=True)
    ]
    return model.from_db(DEFAULT_DB_ALIAS, names, values)


@cache
def _row_shape(model) -> tuple[list, list[str]]:
    """(each concrete field's `from_db_value` or None, their attnames), once per process."""
    fields = model._meta.concrete_fields
    return [getattr(f, "from_db_value", None) for f in fields], [f.attname for f in fields]


def check_on_sale(competition: Competition, now) -> None:
    """Sales are open. A drawn competition gets its own message: its entries are final, and
    a customer (or staff adding a postal entry) should not wait for it to reopen."""
    if competition.status == Status.DRAWN:
        raise SalesClosed(f"“{competition.title}” has been drawn: no more entries.")
    if competition.live_status(now) != Status.ACTIVE:
        raise SalesClosed(f"Entries for “{competition.title}” are closed.")


def check_line(*, competition: Competition, user, line: Line, now, held=None) -> None:
    """The sale rules, checked on the locked, fresh competition row. `held`: what the customer
    holds in it, if counted already under their row lock."""
    check_on_sale(competition, now)
    if line.count > competition.tickets_left:
        raise sold_out(competition)
    if held is None:
        held = held_by(user, competition.pk)
    if held + line.count > competition.max_tickets_per_user:
        raise LimitReached(
            f"You can hold at most {competition.max_tickets_per_user} tickets for "
            f"“{competition.title}”; you have {held}."
        )
    taken = allocation.taken_among(competition.pk, line.numbers)
    if taken:
        raise NumberTaken(taken)


def sold_out(competition: Competition) -> SoldOut:
    """The error for a competition with too few tickets left for a line."""
    left = competition.tickets_left
    later = (
        f" More may come free in the next {settings.FAIRDRAW_RESERVATION_MINUTES} minutes"
        " as other customers' baskets expire."
        if competition.tickets_reserved
        else ""
    )
    return SoldOut(
        (
            f"Only {left} tickets left for “{competition.title}”."
            if left
            else f"“{competition.title}” is sold out."
        )
        + later
    )


def allocate(*, competition: Competition, line: Line) -> list[int]:
    lucky = allocation.lucky_dip(
        competition_id=competition.pk,
        max_number=competition.max_tickets,
        free_count=competition.tickets_left,
        quantity=line.quantity,
        exclude=line.numbers,
    )
    return sorted([*line.numbers, *lucky])


UNIQUE_VIOLATION = "23505"
PICKS = 5  # lucky dips picked again after losing a number to another buyer, before "busy"


@dataclass(frozen=True)
class Ahead:
    """A statement `tickets_insert` sends in the same query string as its first, to save a
    round trip: its rows go to `done` before the tickets are built."""

    sql: str
    params: list
    done: Callable[[list], None]

    def run(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(self.sql, self.params)
            self.done(cursor.fetchall())


def tickets_insert(lines: Sequence[Line], *, ahead: Ahead | None = None, **fields) -> list[Ticket]:
    """Write the lines' tickets (`fields`: those of `new_tickets`) in one statement, without
    the competitions' locks. `ahead`: a statement to run first (on PostgreSQL in the same
    query string); an `order` not saved yet is one it saves, found by its reference.

    Lucky-dip numbers are picked from what committed sales show, so a buyer at the same moment
    may have picked one too: the unique index on live numbers makes the later insert wait for
    the earlier buyer and fail if they commit. Then the lines are picked again (a savepoint
    keeps the rest of the sale), at most PICKS times; a chosen number that went is NumberTaken,
    and lucky dips that find too few numbers left are SoldOut. Numbers are inserted in ascending
    order, so two buyers wanting the same numbers queue instead of deadlocking.

    On PostgreSQL the picking and the writing are one statement (`_insert_free`)."""
    lines = sorted(lines, key=lambda line: line.competition.pk)
    if connection.vendor == "postgresql" and len({x.competition.pk for x in lines}) == len(lines):
        return _tickets_insert_free(lines, ahead=ahead, **fields)
    if ahead is not None:
        ahead.run()
    for _ in range(PICKS):
        tickets = []
        for line in lines:
            try:
                numbers = allocate(competition=line.competition, line=line)
            except allocation.NumbersGone:
                raise sold_out(line.competition) from None
            tickets += new_tickets(competition=line.competition, numbers=numbers, **fields)
        try:
            # Waiting for another buyer's number: a deadlock (with a path that locked the
            # competition first and then wants a number we hold) answers "busy".
            with locking.busy_if_stuck(), transaction.atomic():
                return Ticket.objects.bulk_create(tickets)
        except IntegrityError as exc:
            if getattr(exc.__cause__, "sqlstate", UNIQUE_VIOLATION) != UNIQUE_VIOLATION:
                raise
        for line in lines:
            taken = allocation.taken_among(line.competition.pk, line.numbers)
            if taken:
                raise NumberTaken(taken)
    raise Busy()


PICK_SAVEPOINT = "fairdraw_pick"


def _tickets_insert_free(lines: Sequence[Line], *, ahead: Ahead | None, **fields) -> list[Ticket]:
    """`tickets_insert` in one statement a round: the statement writes the first free numbers
    among each group's candidates (the chosen numbers; random lucky-dip numbers) and skips those
    another buyer holds (ON CONFLICT DO NOTHING waits for that buyer as the unique index would,
    and skips the number if they commit: no error, so no savepoint round trips). A round is all
    or nothing, as on SQLite: it runs in a savepoint (sent in the same query string as the first
    round), and a round that came up short is rolled back before picking again, so a sale never
    holds numbers while it waits for another buyer's (which could deadlock two buyers). A chosen
    number skipped is NumberTaken; lucky dips are picked again, at most PICKS rounds."""
    wanted = sum(line.count for line in lines)
    for round in range(PICKS):
        groups = [(line.competition, sorted(line.numbers), len(line.numbers)) for line in lines]
        groups = [group for group in groups if group[2]]
        for line in lines:
            if line.quantity:
                candidates = _lucky_candidates(
                    line, want=line.quantity, exclude=set(line.numbers), again=round > 0
                )
                groups.append((line.competition, candidates, line.quantity))
        first = round == 0
        before = f"SAVEPOINT {PICK_SAVEPOINT}" if first else ""
        tickets = _insert_free(groups, before=before, ahead=ahead if first else None, **fields)
        if len(tickets) == wanted:
            return tickets
        for line in lines:
            written = {t.number for t in tickets if t.competition_id == line.competition.pk}
            if set(line.numbers) - written:
                raise NumberTaken(sorted(set(line.numbers) - written))
        # Short: undo the round before picking again (the pick must not see its numbers). The
        # savepoint stays for the next round.
        with connection.cursor() as cursor:
            cursor.execute(f"ROLLBACK TO SAVEPOINT {PICK_SAVEPOINT}")
    raise Busy()


def _lucky_candidates(line: Line, *, want: int, exclude: set[int], again: bool) -> list[int]:
    """Random numbers to offer `_insert_free` for `want` lucky dips, in random order. The first
    time, while a fair share of numbers is free, more than it needs at random (allocation's
    sampling, without a query: the insert skips the taken ones). Otherwise, and when picking
    again after candidates were taken, exactly `want` numbers that committed sales leave free,
    found by allocation.lucky_dip (which walks the gaps near sell-out, and finding too few
    says SoldOut, as on SQLite)."""
    competition = line.competition
    free = competition.tickets_left - len(exclude)
    if want > free:
        raise sold_out(competition)
    share = free / competition.max_tickets
    if share >= allocation.SAMPLING_MIN_FREE_SHARE and not again:
        size = min(math.ceil(want / share * 1.5) + 16, allocation.MAX_CANDIDATES)
        return allocation.lucky_candidates(
            max_number=competition.max_tickets, size=size, exclude=exclude
        )
    try:
        return allocation.lucky_dip(
            competition_id=competition.pk,
            max_number=competition.max_tickets,
            free_count=competition.tickets_left,
            quantity=want,
            exclude=exclude,
        )
    except allocation.NumbersGone:
        raise sold_out(competition) from None


def _insert_free(
    groups, *, before: str, ahead: Ahead | None = None, user, order, status, source, now
) -> list[Ticket]:
    """One statement (after `ahead`'s and `before`, in the same query string): for each
    (competition, candidates, want) group, the first `want` of its candidates that no live
    ticket holds, written in ascending (competition, number) order; returns the tickets written
    (fewer than wanted if candidates were taken)."""
    keys, numbers, wants = [], [], []
    for index, (_, candidates, want) in enumerate(groups):
        keys += [index] * len(candidates)
        numbers += candidates
        wants.append(want)
    competition_ids = [competition.pk for competition, _, _ in groups]
    table = Ticket._meta.db_table
    holding = ", ".join(["%s"] * len(allocation.HOLDING_STATUSES))
    at = connection.ops.adapt_datetimefield_value(now)
    saving_order = order is not None and order._state.adding  # saved by `ahead`
    order_id = f"(SELECT id FROM {Order._meta.db_table} WHERE reference = %s)"
    sql = f"""
        INSERT INTO {table}
            (competition_id, number, user_id, order_id, status, source, purchased_at)
        SELECT competition_id, number, %s, {order_id if saving_order else "%s"}, %s, %s, %s FROM (
            SELECT (%s::bigint[])[c.g + 1] AS competition_id, c.number,
                row_number() OVER (PARTITION BY c.g ORDER BY c.i) AS rank, c.g
            FROM unnest(%s::integer[], %s::integer[]) WITH ORDINALITY AS c(g, number, i)
            WHERE NOT EXISTS (
                SELECT 1 FROM {table} t WHERE t.competition_id = (%s::bigint[])[c.g + 1]
                AND t.number = c.number AND t.status IN ({holding}))
        ) AS free
        WHERE rank <= (%s::integer[])[g + 1]
        ORDER BY competition_id, number
        ON CONFLICT DO NOTHING
        RETURNING id, competition_id, number
    """
    order_param = order.reference if saving_order else (order.pk if order else None)
    params = [user.pk if user else None, order_param, status, source, at]
    params += [competition_ids, keys, numbers, competition_ids, *allocation.HOLDING_STATUSES]
    params += [wants]
    by_id = {competition.pk: competition for competition, _, _ in groups}
    with locking.busy_if_stuck(), connection.cursor() as cursor:
        if connection.settings_dict["OPTIONS"].get("server_side_binding"):
            if ahead is not None:  # one statement at a time
                ahead.run()
            if before:
                cursor.execute(before)
            cursor.execute(sql, params)
        else:
            # Each prepared once per connection (core.prepared): the order's insert and this
            # one are the widest statements of a checkout to parse and plan.
            ahead_part = (ahead.sql, ahead.params) if ahead else ""
            execute_prepared_parts(cursor, [ahead_part, before, (sql, params)])
            if ahead is not None:
                ahead.done(cursor.fetchall())
                cursor.nextset()
            if before:
                cursor.nextset()
        rows = cursor.fetchall()
    # The tickets as Ticket(...) with these values would be once saved, built the way the ORM
    # builds rows it reads (from_db, the related objects cached): a few times cheaper.
    names = [f.attname for f in Ticket._meta.concrete_fields]
    fields = {
        "user_id": user.pk if user else None,
        "order_id": order.pk if order else None,
        "status": status,
        "source": source,
        "purchased_at": now,
        "refunded_at": None,
    }
    get = Ticket._meta.get_field
    tickets = []
    for pk, competition_id, number in rows:
        fields.update(id=pk, competition_id=competition_id, number=number)
        ticket = Ticket.from_db(connection.alias, names, [fields[name] for name in names])
        get("competition").set_cached_value(ticket, by_id[competition_id])
        get("user").set_cached_value(ticket, user)
        get("order").set_cached_value(ticket, order)
        tickets.append(ticket)
    return tickets


def counters_claim(
    competition: Competition,
    *,
    sold: int = 0,
    reserved: int = 0,
    now,
    on_sale: bool,
    commit: bool = False,
) -> bool:
    """Move a competition's counters if they still allow it, in one statement: the moment a
    sale takes the competition's row, just before it commits. Returns False (nothing changed)
    if the quota would be exceeded, the competition is drawn or cancelled, or, with `on_sale`,
    it is not on sale at `now` at the price read before (`competition.ticket_price`). The
    counters on `competition` become those just written. Callers claim several competitions
    in ascending id order.

    `commit`: this is the transaction's last statement; where it can (`commits_with_claim`) it
    carries the COMMIT, and a refusal raises ClaimRefused, the transaction rolled back."""
    sql, params = _claim_sql(competition, now=now, on_sale=on_sale, sold=sold, reserved=reserved)
    row = _claim(sql, params, commit=commit and commits_with_claim())
    if row is None:
        return False
    competition.tickets_sold, competition.tickets_reserved = row
    return True


class ClaimRefused(Exception):
    """A counters' claim that carried its transaction's COMMIT was refused: nothing was written
    (the transaction is rolled back). `claim_refusal` says why."""


def commits_with_claim() -> bool:
    """Whether a claim may carry its transaction's COMMIT: on PostgreSQL (one query string:
    client-side binding), in the outermost transaction.atomic() only (an inner block's caller
    may still write or roll back), with nothing written after it. Then the competition's row
    is held only while the database runs the claim and the commit: the buyer's process, which
    may be waiting for a CPU among many, no longer stands between them while others queue."""
    return (
        connection.vendor == "postgresql"
        and not connection.settings_dict["OPTIONS"].get("server_side_binding")
        and len(connection.atomic_blocks) == 1
    )


# A refused claim must stop its COMMIT, so it fails: one row always comes out, and its last
# column divides by the number of rows the claim updated (0: division_by_zero, 22012).
_REFUSED_FAILS = (
    "WITH {ctes}claimed AS ({claim}) SELECT claimed.*, 1 / (SELECT count(*) FROM claimed)::integer"
    " FROM (SELECT 1) AS one LEFT JOIN claimed ON true"
)
DIVISION_BY_ZERO = "22012"


def _claim(sql: str, params, *, commit: bool, ctes: str = ""):
    """Run a claim (`ctes`: what its WITH clause would list); its RETURNING row, or None if
    refused. With `commit`, the claim carries the COMMIT and a refusal raises ClaimRefused."""
    if commit:
        sql = _REFUSED_FAILS.format(ctes=f"{ctes}, " if ctes else "", claim=sql)
    elif ctes:
        sql = f"WITH {ctes} {sql}"
    with connection.cursor() as cursor:
        try:
            locking.execute_briefly(cursor, sql, params, after="COMMIT" if commit else "")
        except DataError as exc:
            if commit and getattr(exc.__cause__, "sqlstate", None) == DIVISION_BY_ZERO:
                raise ClaimRefused() from exc
            raise
        row = cursor.fetchone()
    return row[:-1] if commit else row


def paid_tickets_claim(
    order_id: int,
    turns: Sequence[tuple[Competition, str]],
    *,
    now,
    commit: bool = False,
    answers: Sequence[tuple[int, bool]] = (),
) -> bool:
    """A paid order's reserved tickets become active (or invalid, for a wrong answer) and move
    from reserved to sold on their competitions' counters, unless a competition has been drawn
    or cancelled meanwhile (then False, and the caller rolls back). `turns`: (competition, the
    status its tickets take), in ascending id order. The competitions get their new counts.

    Turning tickets active takes the competition's row too: the ledger's trigger
    (draws/migrations/0003) locks it to bump the ledger version. So on PostgreSQL both are one
    statement per competition, the sale's last, and the row is held from there to the commit
    only. (SQLite has no trigger: all tickets first, then the counters.)

    `commit`: as counters_claim's; the claims then also refuse a sale that would sell a
    competition out (its caller writes the operators' alert after the claims; the locked path
    does so before commit): False, the transaction rolled back.

    `answers`: the order's skill-question answers, (competition id, correct?) per line, counted
    with the claims (competitions.services.skill_answers_upsert_sql: on PostgreSQL in each
    competition's claim statement), so they count exactly when the sale does."""
    totals = skill_answer_totals(answers)
    if connection.vendor != "postgresql":
        if answers:  # (rolled back with the rest if a claim below is refused)
            skill_answers_record(answers=answers)
        converted = [
            Ticket.objects.filter(
                order_id=order_id, competition_id=competition.pk, status=Ticket.Status.RESERVED
            ).update(status=status, purchased_at=now)
            for competition, status in turns
        ]
        return all(
            counters_claim(competition, sold=count, reserved=-count, now=now, on_sale=False)
            for (competition, _), count in zip(turns, converted, strict=True)
        )
    at = connection.ops.adapt_datetimefield_value(now)
    fold = commit and commits_with_claim()
    for i, (competition, status) in enumerate(turns):
        last = fold and i == len(turns) - 1
        claim, params = _claim_sql(
            competition, now=now, on_sale=False, count="(SELECT n FROM turned)", unsold=fold
        )
        ctes = (
            "converted AS ("
            f" UPDATE {Ticket._meta.db_table} SET status = %s, purchased_at = %s"
            " WHERE order_id = %s AND competition_id = %s AND status = %s RETURNING 1),"
            " turned AS (SELECT count(*) AS n FROM converted)"
        )
        params = [status, at, order_id, competition.pk, Ticket.Status.RESERVED, *params]
        if competition.pk in totals:
            answered, wrong = totals[competition.pk]
            count_sql, count_params = skill_answers_upsert_sql(
                competition.pk, answered=answered, wrong=wrong
            )
            ctes = f"counted AS ({count_sql}), {ctes}"
            params = [*count_params, *params]
        try:
            row = _claim(claim, params, commit=last, ctes=ctes)
        except ClaimRefused:
            return False
        if row is None:
            return False
        competition.tickets_sold, competition.tickets_reserved = row
    return True


def _claim_sql(
    competition: Competition, *, now, on_sale: bool, sold=0, reserved=0, count=None, unsold=False
) -> tuple[str, list]:
    """The counters' claim, `UPDATE ... RETURNING tickets_sold, tickets_reserved`, and its
    parameters: it moves `sold` and `reserved`, or, given `count` (an SQL expression), moves
    that many tickets from reserved to sold. `unsold`: only if it leaves tickets unsold."""
    table = Competition._meta.db_table
    final, live = sorted(FINAL), sorted(LIVE)
    at = connection.ops.adapt_datetimefield_value(now)
    if count is None:
        moves = "tickets_sold + %s, tickets_reserved = tickets_reserved + %s"
        params = [sold, reserved]
    else:
        moves = f"tickets_sold + {count}, tickets_reserved = tickets_reserved - {count}"
        params = []
    conditions = [
        "id = %s",
        f"status NOT IN ({statuses(final)})",
        "tickets_sold + tickets_reserved + %s <= max_tickets",
    ]
    params += [at, competition.pk, 0 if count else sold + reserved]
    if unsold:
        conditions.append(f"tickets_sold + {count or '%s'} < max_tickets")
        params += [] if count else [sold]
    if on_sale:  # competitions.lifecycle.derive_status says "active" (check_on_sale)
        conditions += [
            f"status IN ({statuses(live)})",
            "starts_at <= %s",
            "ends_at > %s",
            "tickets_sold < max_tickets",
            "ticket_price = %s",
        ]
        params += [at, at, competition.ticket_price]
    sql = (
        f"UPDATE {table} SET tickets_sold = {moves}, updated_at = %s"
        f" WHERE {' AND '.join(conditions)} RETURNING tickets_sold, tickets_reserved"
    )
    return sql, params


def statuses(values) -> str:
    """Status names (the code's own constants, never input) as SQL literals: written into the
    statement rather than sent as parameters, which a prepared statement does not need."""
    if not all(value.isidentifier() for value in values):
        raise ValueError(f"Not a status name: {values!r}")
    return ", ".join(f"'{value}'" for value in values)


def sale_claim(
    competition: Competition, *, sold: int = 0, reserved: int = 0, now, commit: bool = False
) -> None:
    """`counters_claim` for a sale (on sale, at the price read): if the counters no longer allow
    it, raise what the fresh row says (the price changed, sales closed, too few left), which
    rolls the sale back. `commit`: as counters_claim's (ClaimRefused: call `claim_refusal`
    once the transaction is rolled back)."""
    price = competition.ticket_price
    claimed = counters_claim(
        competition, sold=sold, reserved=reserved, now=now, on_sale=True, commit=commit
    )
    if not claimed:
        raise claim_refusal(competition, price=price, now=now)


def claim_refusal(competition: Competition, *, price, now) -> Exception:
    """Why a sale's claim on `competition` (at `price`) was refused, from its fresh row: the
    price changed, sales closed, or too few tickets left."""
    competition.refresh_from_db()
    if competition.ticket_price != price:
        return SalesClosed(f"The price of “{competition.title}” has just changed.")
    try:
        check_on_sale(competition, now)
    except SalesClosed as exc:
        return exc
    return sold_out(competition)


def counters_add(competition_id: int, *, sold: int = 0, reserved: int = 0, now) -> None:
    Competition.objects.filter(pk=competition_id).update(
        tickets_sold=F("tickets_sold") + sold,
        tickets_reserved=F("tickets_reserved") + reserved,
        updated_at=now,
    )


def new_tickets(*, competition, user, order, numbers, status, source, now) -> list[Ticket]:
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


def ticket_status(answer: AnswerChoice) -> str:
    return Ticket.Status.ACTIVE if answer.is_correct else Ticket.Status.INVALID


def order_competition_ids(order_id: int) -> list[int]:
    return list(
        OrderLine.objects.filter(order_id=order_id)
        .order_by()
        .values_list("competition_id", flat=True)
    )
