"""Turning a customer's money into ticket numbers exactly once, never beyond the quota.

The life of an order, one module each:
  reservations    `order_reserve` validates the cart, locks its competitions (ascending id,
                  short timeout), holds the numbers as `reserved` tickets of a pending order
                  (15 minutes); `order_checkout_start` asks the payment gateway for a checkout
                  page for that order; `line_check` tells the customer early.
  payment_events  `payment_event_handle` records a verified provider event once and acts on it.
  fulfilment      `order_fulfil`: payment confirmed, reserved tickets become active (invalid for
                  a wrong answer); a lapsed reservation is re-reserved if the rules still allow
                  it, otherwise the payment is refunded automatically. So is a credit-card
                  payment the code of practice refuses (tickets.cards), and a payment for a
                  drawn or cancelled competition.
  release         `order_release`: a lapsed or cancelled checkout gives its numbers back; after
                  commit a task closes the provider's checkout page (`order_checkout_expire`).
  refunds         `order_refund`: staff refund a whole order or single tickets; the numbers
                  return to sale. The refund rules live there once (`refund_refusal`).
  postal          `postal_entry_add`: free entries, same limits, same chance.
  receipts        each paid order's signed entry receipt, written by the payment's claim of
                  the order (`receipt_for_payment`) or, failing that, right after the commit
                  (`receipt_issue`); a postal entry's in its own transaction.
  rules           the sale rules and counters the others share.

Locks are taken in one order: the customer's row, then the order, then ticket numbers (the
partial unique index on live numbers), then the competitions' rows (ascending ids). Those that
judge the customer's spend (order_reserve, order_fulfil) or give a customer numbers
(order_reserve, order_fulfil, postal_entry_add) lock the customer's row first, so what a
customer holds can only grow under their row lock, and order_reserve counts it there. The
counters on Competition and the unique index on (competition, number) are the database's own
guarantee that nothing is oversold or sold twice.

The competitions' rows serialise every sale of a popular competition, so the usual sale
(order_reserve, the usual order_fulfil, order_release, postal_entry_add) takes them last: the customer's checks,
the order, its lines and its tickets come first, then one conditional statement per
competition moves its counters if they still allow it (rules.counters_claim), just before
commit. Paths that must judge a competition on its locked row (refunds, a lapsed order's late
payment) lock it with tickets.locking, after the order.

A drawn competition is locked: no purchase (SalesClosed), no payment turned into tickets (it is
refunded), no refund (RefundRefused), no postal entry (SalesClosed).

Callers import from here (`from tickets.services import order_reserve`); the modules are how
the package is kept, not part of its interface.
"""

from .fulfilment import Fulfilment, order_fulfil, order_record_paid
from .payment_events import payment_event_handle
from .postal import postal_entry_add
from .receipts import (
    receipt_issue,
    receipt_key_current,
    receipts_issue_missing,
    receipts_sweep,
)
from .refunds import (
    RefundPlan,
    TicketsRefunded,
    order_refund,
    provider_refund_record,
    refund_plan,
    refund_queue,
    refund_refusal,
    refund_retry,
    refund_submit,
    refund_sweep,
    tickets_refund,
)
from .release import order_checkout_expire, order_release, reservations_release_expired
from .reservations import line_check, order_checkout_start, order_reserve
from .rules import LineRequest

__all__ = [
    "Fulfilment",
    "LineRequest",
    "RefundPlan",
    "TicketsRefunded",
    "line_check",
    "order_checkout_expire",
    "order_checkout_start",
    "order_fulfil",
    "order_record_paid",
    "order_refund",
    "order_release",
    "order_reserve",
    "payment_event_handle",
    "postal_entry_add",
    "provider_refund_record",
    "receipt_issue",
    "receipt_key_current",
    "receipts_issue_missing",
    "receipts_sweep",
    "refund_plan",
    "refund_queue",
    "refund_refusal",
    "refund_retry",
    "refund_submit",
    "refund_sweep",
    "reservations_release_expired",
    "tickets_refund",
]
