"""The sale rules and the bookkeeping every path that gives out or takes back numbers shares.

Reserving, fulfilling a payment, re-issuing a lapsed order, postal entries and refunds all judge
a customer and a competition by the same checks and move the same counters; they live here
once. Nothing in this module opens a transaction: callers do (tickets.services says in which
order they take their locks). A sale checks its lines on fresh rows (`check_line`), writes its
tickets (`tickets_insert`: the unique index on live numbers settles a race for a number) and
takes each competition's row last, in the one statement that moves its counters only if they
still allow it (`counters_claim`).
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F
from django.utils import timezone

from accounts.models import ExclusionKind, User
from accounts.selectors import email_verified
from accounts.services import age_verification_needed_message
from competitions.lifecycle import FINAL, LIVE, Status
from competitions.models import AnswerChoice, Competition

from .. import allocation, locking
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

    @property
    def count(self) -> int:
        return self.quantity + len(self.numbers)


CONFIRM_EMAIL_FIRST = (
    "Confirm your e-mail first: open the link we sent to {email} (or ask for a new one from "
    "your basket or your details page), then come back to enter."
)


def check_eligible(user, now=None, operator=None, *, reserving: bool = False) -> None:
    """`operator`: the OperatorSettings row this purchase read (default: read it).
    `reserving`: a customer's own checkout, which also needs a confirmed e-mail address (no
    mass of throw-away accounts holding numbers); payments for numbers already held and
    postal entries do not ask again."""
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
    if reserving and not email_verified(user):
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


def prepare_lines(lines: Sequence[LineRequest]) -> list[Line]:
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
        prepared.append(Line(competition, answer, line.quantity, numbers))
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


def tickets_insert(lines: Sequence[Line], **fields) -> list[Ticket]:
    """Write the lines' tickets (`fields`: those of `new_tickets`) in one statement, without
    the competitions' locks.

    Lucky-dip numbers are picked from what committed sales show, so a buyer at the same moment
    may have picked one too: the unique index on live numbers makes the later insert wait for
    the earlier buyer and fail if they commit. Then the lines are picked again (a savepoint
    keeps the rest of the sale), at most PICKS times; a chosen number that went is NumberTaken,
    and lucky dips that find too few numbers left are SoldOut. Numbers are inserted in ascending
    order, so two buyers wanting the same numbers queue instead of deadlocking."""
    lines = sorted(lines, key=lambda line: line.competition.pk)
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


def counters_claim(
    competition: Competition, *, sold: int = 0, reserved: int = 0, now, on_sale: bool
) -> bool:
    """Move a competition's counters if they still allow it, in one statement: the moment a
    sale takes the competition's row, just before it commits. Returns False (nothing changed)
    if the quota would be exceeded, the competition is drawn or cancelled, or, with `on_sale`,
    it is not on sale at `now` at the price read before (`competition.ticket_price`). The
    counters on `competition` become those just written. Callers claim several competitions
    in ascending id order."""
    table = Competition._meta.db_table
    final, live = sorted(FINAL), sorted(LIVE)
    at = connection.ops.adapt_datetimefield_value(now)
    conditions = [
        "id = %s",
        f"status NOT IN ({', '.join(['%s'] * len(final))})",
        "tickets_sold + tickets_reserved + %s <= max_tickets",
    ]
    params = [competition.pk, *final, sold + reserved]
    if on_sale:  # competitions.lifecycle.derive_status says "active" (check_on_sale)
        conditions += [
            f"status IN ({', '.join(['%s'] * len(live))})",
            "starts_at <= %s",
            "ends_at > %s",
            "tickets_sold < max_tickets",
            "ticket_price = %s",
        ]
        params += [*live, at, at, competition.ticket_price]
    with locking.waiting_briefly(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET tickets_sold = tickets_sold + %s,"
            " tickets_reserved = tickets_reserved + %s, updated_at = %s"
            f" WHERE {' AND '.join(conditions)} RETURNING tickets_sold, tickets_reserved",
            [sold, reserved, at, *params],
        )
        row = cursor.fetchone()
    if row is None:
        return False
    competition.tickets_sold, competition.tickets_reserved = row
    return True


def sale_claim(competition: Competition, *, sold: int = 0, reserved: int = 0, now) -> None:
    """`counters_claim` for a sale (on sale, at the price read): if the counters no longer allow
    it, raise what the fresh row says (the price changed, sales closed, too few left), which
    rolls the sale back."""
    if counters_claim(competition, sold=sold, reserved=reserved, now=now, on_sale=True):
        return
    price = competition.ticket_price
    competition.refresh_from_db()
    if competition.ticket_price != price:
        raise SalesClosed(f"The price of “{competition.title}” has just changed.")
    check_on_sale(competition, now)
    raise sold_out(competition)


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
