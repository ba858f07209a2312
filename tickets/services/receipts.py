"""Issuing signed entry receipts (tickets.receipts has the format and the keys).

A paid order's receipt is signed by the usual payment from what it has read and written in
the statement that claims the order as paid (`receipt_for_payment`, `receipt_insert_sql`), so
it commits with the payment and costs no statement of its own, before the competition's row is
taken. Any other payment (and one whose process could not sign then) has it issued right after
the commit (`receipt_issue_after_commit`), in a small transaction of its own; `receipt_issue`
is idempotent (one receipt per order, a unique constraint behind it), and
`receipts_issue_missing` (a periodic task and `manage.py issue_receipts`) catches an order
whose receipt was lost with its process. A postal entry's receipt is issued in
the entry's own transaction, before the competition's counters are claimed.

`receipt_key_current` records the signing key (`ReceiptKey`) the first time it signs, and retires
the keys it replaces then, which is what `/receipts/keys.json` publishes. A process still
configured with a retired key refuses to sign (ReceiptKeyError): its orders are left for the
sweep of a process with the current key.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from core.audit import audit_record

from .. import receipts
from ..models import Order, OrderLine, Receipt, ReceiptKey, Ticket, new_postal_reference
from .rules import lock_customer

logger = logging.getLogger(__name__)

# The periodic sweep looks this far back; `manage.py issue_receipts --all` looks at every order.
SWEEP_WINDOW = timedelta(days=2)
SWEEP_BATCH = 500


def receipt_key_current(*, now=None) -> tuple[receipts.SigningKey, ReceiptKey]:
    """The key that signs now, recorded as published; the first time it signs, the keys it
    replaces are retired as of that moment."""
    now = now or timezone.now()
    key = receipts.signing_keys()[0]
    moment = now.replace(microsecond=0)
    row, created = ReceiptKey.objects.get_or_create(
        key_id=key.key_id, defaults={"public_key": key.public_key, "valid_from": moment}
    )
    if row.public_key != key.public_key:
        raise receipts.ReceiptKeyError(
            f"Receipt key id {key.key_id!r} was published with another public key; "
            "give the new key a new id (manage.py receipt_key)."
        )
    if row.retired_at is not None:
        raise receipts.ReceiptKeyError(
            f"Receipt key {key.key_id!r} was retired at {row.retired_at:%Y-%m-%d %H:%M} UTC; "
            "FAIRDRAW_RECEIPT_KEYS must list the current key first."
        )
    if created:
        retired = list(
            ReceiptKey.objects.filter(retired_at__isnull=True)
            .exclude(pk=row.pk)
            .values_list("key_id", flat=True)
        )
        ReceiptKey.objects.filter(key_id__in=retired).update(retired_at=moment)
        audit_record(
            actor=None,
            action="receipt_key.published",
            obj=row,
            after={"key_id": row.key_id, "public_key": row.public_key, "retired": retired},
        )
    return key, row


def _entry(competition, numbers, in_draw: bool) -> dict:
    return {
        "competition": {"id": competition.pk, "slug": competition.slug, "title": competition.title},
        "numbers": sorted(numbers),
        "in_draw": in_draw,
    }


def _sign(*, kind: str, reference: str, entered_at, entries: list[dict], now) -> tuple:
    key, row = receipt_key_current(now=now)
    return _document(key, row.valid_from, kind, reference, entered_at, entries, now)


def _document(key, valid_from, kind, reference, entered_at, entries, now) -> tuple:
    """The receipt document signed with `key` (published since `valid_from`), and its time."""
    issued_at = max(now.replace(microsecond=0), valid_from)
    payload = {
        "format": receipts.FORMAT,
        "version": receipts.VERSION,
        "operator": settings.SITE_NAME,
        "kind": kind,
        "reference": reference,
        "entered_at": receipts.utc_text(entered_at),
        "issued_at": receipts.utc_text(issued_at),
        "entries": sorted(entries, key=lambda entry: entry["competition"]["id"]),
    }
    return key.sign(payload), issued_at


# The signing key this process found published (key id -> (key, valid from)): a payment signs
# its receipt without reading ReceiptKey; the insert itself checks that the key is still the
# published, unretired one (`receipt_for_payment`).
_published: dict[str, tuple] = {}


def receipt_key_published(now=None) -> tuple:
    """(key, valid from) of the key that signs now; the first time, published as
    `receipt_key_current` does (in a savepoint: a refusal leaves the caller's transaction
    usable). ReceiptKeyError if it may not sign."""
    now = now or timezone.now()
    key = receipts.signing_keys()[0]
    known = _published.get(key.key_id)
    if known is None or known[0] is not key:
        with transaction.atomic():
            key, row = receipt_key_current(now=now)
        known = _published[key.key_id] = (key, row.valid_from)
    return known


@dataclass(frozen=True)
class PaymentReceipt:
    """A usual payment's receipt, signed ahead from what the payment holds: the INSERT's
    columns, written by the payment's own statement (tickets.services.fulfilment) only if the
    order is claimed as paid and the key is still the published, unretired one."""

    columns: dict
    key_id: str
    public_key: str


def receipt_for_payment(*, order: Order, lines, now) -> PaymentReceipt | None:
    """The receipt of a pending order being paid now (`order.paid_at` set), from its lines as
    rules.order_lines_loaded(numbers=True) gives them: signed inside the payment's
    transaction, so the receipt commits with the payment, with no statement of its own. None
    if this process cannot sign now (no current key published): then it is issued after the
    commit or by the sweep, as before."""
    entries = [
        _entry(line.competition, line.ticket_numbers, line.answer.is_correct)
        for line in lines
        if line.ticket_numbers
    ]
    if not entries:
        return None
    try:
        key, valid_from = receipt_key_published(now)
    except receipts.ReceiptKeyError:
        logger.exception("Receipt for order %s not signed with the payment.", order.pk)
        return None
    document, issued_at = _document(
        key, valid_from, Receipt.Kind.ORDER, order.reference, order.paid_at, entries, now
    )
    columns = {
        "reference": order.reference,
        "kind": Receipt.Kind.ORDER,
        "user_id": order.user_id,
        "order_id": order.pk,
        "competition_id": None,
        "payload": document["receipt"],
        "key_id": document["key_id"],
        "signature": document["signature"],
        "issued_at": issued_at,
    }
    return PaymentReceipt(columns, key.key_id, key.public_key)


def receipt_key_forget() -> None:
    """Read the signing key's publication again next time (a payment's receipt was not
    written: the key may have been retired, or its row is not there)."""
    _published.clear()


def receipt_insert_sql(receipt: PaymentReceipt, *, source: str) -> tuple[str, list]:
    """`INSERT` of the receipt for each row of `source` (an SQL name: the payment's claim of the
    order, so no claim, no receipt), only while its key is published and not retired; ON
    CONFLICT nothing (issued already). Returns the statement and its parameters."""
    from django.db import connection

    meta = Receipt._meta
    fields = [meta.get_field(name) for name in receipt.columns]  # (a key's attname finds it)
    quote = connection.ops.quote_name
    values = [
        f.get_db_prep_save(value, connection) if not f.is_relation else value
        for f, value in zip(fields, receipt.columns.values(), strict=True)
    ]
    key_table = quote(ReceiptKey._meta.db_table)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"
        f" SELECT {', '.join(['%s'] * len(fields))} FROM {source}"
        f" WHERE EXISTS (SELECT 1 FROM {key_table} k WHERE k.key_id = %s AND k.public_key = %s"
        " AND k.retired_at IS NULL) ON CONFLICT DO NOTHING RETURNING 1"
    )
    return sql, [*values, receipt.key_id, receipt.public_key]


def receipt_insert(receipt: PaymentReceipt) -> bool:
    """`receipt_insert_sql`'s twin with the ORM (SQLite): write it if its key is still the
    published, unretired one; whether it was written."""
    published = ReceiptKey.objects.filter(
        key_id=receipt.key_id, public_key=receipt.public_key, retired_at__isnull=True
    )
    if not published.exists():
        return False
    try:
        with transaction.atomic():
            Receipt.objects.create(**receipt.columns)
    except IntegrityError:  # issued already
        return False
    return True


def receipt_issue(*, order_id: int, now=None) -> Receipt | None:
    """The order's receipt, issued now if it has none yet. None for an order that issued no
    tickets (unpaid, or refunded at payment)."""
    existing = Receipt.objects.filter(order_id=order_id).first()
    if existing is not None:
        return existing
    now = now or timezone.now()
    lines = list(
        OrderLine.objects.filter(order_id=order_id)
        .select_related("order", "competition", "answer")
        .order_by("competition_id")
    )
    if not lines or lines[0].order.status not in Order.PAID_STATES:
        return None
    order = lines[0].order
    numbers = defaultdict(list)
    for competition_id, number in (
        Ticket.objects.issued().filter(order_id=order_id).values_list("competition_id", "number")
    ):
        numbers[competition_id].append(number)
    if not numbers:
        return None
    entries = [
        _entry(line.competition, numbers[line.competition_id], line.answer.is_correct)
        for line in lines
        if numbers.get(line.competition_id)
    ]
    try:
        with transaction.atomic():
            # The customer's row first, as a payment takes it: the receipt's row refers to the
            # order and the customer, and a redelivered payment holding the customer while it
            # locks the order must not meet this transaction holding the order first.
            lock_customer(order.user_id)
            document, issued_at = _sign(
                kind=Receipt.Kind.ORDER,
                reference=order.reference,
                entered_at=order.paid_at,
                entries=entries,
                now=now,
            )
            return Receipt.objects.create(
                reference=order.reference,
                kind=Receipt.Kind.ORDER,
                user_id=order.user_id,
                order=order,
                payload=document["receipt"],
                key_id=document["key_id"],
                signature=document["signature"],
                issued_at=issued_at,
            )
    except IntegrityError:  # issued meanwhile by another delivery of the same payment
        return Receipt.objects.get(order_id=order_id)


def receipt_issue_after_commit(*, order_id: int) -> None:
    """Issue the order's receipt once the payment's transaction commits (at once if there is
    none). A failure is logged and left to the sweep: it never undoes or fails the payment."""

    def issue():
        try:
            receipt_issue(order_id=order_id)
        except Exception:
            logger.exception("Receipt for order %s not issued; the sweep will retry.", order_id)

    transaction.on_commit(issue)


def receipt_issue_postal(*, user, competition, numbers, now) -> Receipt:
    """A free postal entry's receipt, in the entry's transaction (its reference is new)."""
    reference = new_postal_reference()
    document, issued_at = _sign(
        kind=Receipt.Kind.POSTAL,
        reference=reference,
        entered_at=now,
        entries=[_entry(competition, numbers, True)],
        now=timezone.now(),
    )
    return Receipt.objects.create(
        reference=reference,
        kind=Receipt.Kind.POSTAL,
        user=user,
        competition=competition,
        payload=document["receipt"],
        key_id=document["key_id"],
        signature=document["signature"],
        issued_at=issued_at,
    )


def orders_missing_receipts(*, since=None):
    """Paid orders that issued tickets and have no receipt (created since `since`, if given:
    `created_at` is indexed, so the minute's sweep reads only recent orders)."""
    orders = Order.objects.filter(status__in=Order.PAID_STATES, receipt__isnull=True).filter(
        Exists(Ticket.objects.issued().filter(order=OuterRef("pk")))
    )
    if since is not None:
        orders = orders.filter(created_at__gte=since)
    return orders.order_by("pk")


def receipts_issue_missing(*, since=None, limit: int | None = None) -> int:
    """Issue the receipts that paid orders are missing; how many were issued."""
    ids = orders_missing_receipts(since=since).values_list("pk", flat=True)
    issued = 0
    for order_id in ids[:limit] if limit else ids.iterator():
        if receipt_issue(order_id=order_id) is not None:
            issued += 1
    return issued


def receipts_sweep(*, now=None) -> int:
    """The periodic catch-up: recent paid orders without a receipt."""
    now = now or timezone.now()
    return receipts_issue_missing(since=now - SWEEP_WINDOW, limit=SWEEP_BATCH)
