"""One customer, two things at once (PostgreSQL only): real threads, real transactions.

Each pair below would be allowed alone but not together. The customer's row lock (taken before
any competition's, in order_reserve and order_fulfil alike) must let exactly one through."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test import Client

from core.models import OperatorSettings
from responsible_play import limits
from tests.factories import UserFactory, active_competition, correct_answer
from tickets import spending
from tickets.cards import credit_card_spend
from tickets.exceptions import LimitReached
from tickets.models import CardFunding, Order, Refund, Ticket
from tickets.services import order_record_paid, postal_entry_add

from .conftest import paid_event, post_event
from .helpers import reserve

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 4


def in_parallel(*jobs) -> list:
    """Run the jobs in threads released together; each result, or the exception it raised."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(i):
        try:
            barrier.wait()
            results[i] = jobs[i]()
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return results


def test_two_checkouts_at_once_leave_one_open_checkout_within_the_monthly_limit(on_postgres):
    """Each checkout alone fits the limit, both together would not. One customer holds one
    open checkout at a time, and the customer's row lock orders the two: the later one gives
    back the earlier one's numbers, so the spend never passes the limit."""
    for _ in range(ROUNDS):
        customer = UserFactory()
        limits.spend_limit_set(user=customer, monthly_limit=Decimal("10.00"))
        # Two competitions, so only the customer's row can keep the checkouts apart.
        clients = []
        for competition in (active_competition(), active_competition()):  # £2.50 a ticket
            client = Client()
            client.force_login(customer)
            client.post(
                f"/cart/add/{competition.slug}/",
                {"answer": correct_answer(competition).pk, "quantity": 3},  # £7.50
            )
            clients.append(client)

        responses = in_parallel(*(lambda c=c: c.post("/checkout/") for c in clients))

        assert not any(isinstance(r, Exception) for r in responses), responses
        assert all(r.url.startswith("/checkout/dev-pay/") for r in responses), responses
        (open_order,) = Order.objects.filter(user=customer, status=Order.Status.PENDING)
        released = Order.objects.get(user=customer, status=Order.Status.CANCELLED)
        assert not released.tickets.filter(status__in=Ticket.HOLDING_STATUSES).exists()
        assert open_order.tickets.filter(status=Ticket.Status.RESERVED).count() == 3
        assert spending.monthly_spend(customer) == Decimal("7.50")

        # Paid, the spend stays within the limit.
        winner = clients[
            [r.url for r in responses].index(f"/checkout/dev-pay/{open_order.reference}/")
        ]
        winner.post(
            f"/checkout/dev-pay/{open_order.reference}/", {"action": "pay", "funding": "debit"}
        )
        open_order.refresh_from_db()
        assert open_order.status == Order.Status.PAID
        assert spending.monthly_spend(customer) == Decimal("7.50") <= Decimal("10.00")


def test_two_credit_card_payments_that_together_exceed_the_cap(on_postgres, fake_stripe):
    settings_row = OperatorSettings.current()
    settings_row.credit_card_monthly_cap = Decimal("250.00")
    settings_row.save()
    for round_ in range(ROUNDS):
        customer = UserFactory()
        orders = [
            reserve(customer, active_competition(ticket_price=Decimal("50.00")), quantity=3)
            for _ in range(2)
        ]  # £150 each: either fits under £250, both do not
        events = [
            paid_event(fake_stripe, order, funding="credit", event_id=f"evt_{round_}_{order.pk}")
            for order in orders
        ]

        responses = in_parallel(*(lambda e=e: post_event(Client(), e) for e in events))

        assert [r.status_code for r in responses] == [200, 200]
        outcomes = sorted(r.json()["outcome"] for r in responses)
        # The second checkout gave back the first's numbers (one open checkout per customer),
        # so the first order's payment is a late one: its numbers are issued again if free.
        assert outcomes[0] in ("paid", "paid after the reservation lapsed")
        assert outcomes[1].startswith("refunded: Paying £150.00 by credit card")
        statuses = sorted(Order.objects.filter(user=customer).values_list("status", flat=True))
        assert statuses == [Order.Status.PAID, Order.Status.REFUNDED]
        refused = Order.objects.get(user=customer, status=Order.Status.REFUNDED)
        assert not refused.tickets.exists()
        assert refused.card_funding == CardFunding.CREDIT
        assert Refund.objects.get(order=refused).reason == Refund.Reason.CREDIT_CARD
        assert Ticket.objects.filter(user=customer, status=Ticket.Status.ACTIVE).count() == 3
        assert credit_card_spend(customer) == Decimal("150.00")


def test_a_postal_entry_and_a_checkout_that_together_exceed_the_per_customer_limit(on_postgres):
    """Checkout counts what the customer holds before it locks the competitions, because every
    path that gives a customer numbers locks their row first: a postal entry being added holds
    it, so the checkout waits for it and then counts the entry."""
    competition = active_competition(max_tickets=100, max_tickets_per_user=3)
    customer = UserFactory()
    # A paid ticket (an open checkout would be given back by the next one).
    order_record_paid(
        user=customer, competition=competition, answer=correct_answer(competition), quantity=1
    )
    entered, commit = threading.Event(), threading.Event()
    outcome: list = []

    def add_postal_entry():
        try:
            with transaction.atomic():
                postal_entry_add(user=customer, competition=competition, quantity=1)
                entered.set()
                commit.wait(10)
        finally:
            connection.close()

    def check_out():
        try:
            outcome.append(reserve(customer, competition, quantity=2))
        except Exception as exc:
            outcome.append(exc)
        finally:
            connection.close()

    clerk = threading.Thread(target=add_postal_entry)
    clerk.start()
    assert entered.wait(10)
    buyer = threading.Thread(target=check_out)
    buyer.start()
    buyer.join(0.5)
    assert buyer.is_alive()  # queued behind the postal entry
    commit.set()
    clerk.join(10)
    buyer.join(10)

    assert isinstance(outcome[0], LimitReached), outcome
    assert "you have 2" in str(outcome[0])
    held = Ticket.objects.filter(user=customer, status__in=Ticket.HOLDING_STATUSES)
    assert held.count() == 2
