"""One customer, two things at once (PostgreSQL only): real threads, real transactions.

Each pair below would be allowed alone but not together. The customer's row lock (taken before
anything else, in order_reserve and order_fulfil alike) must let exactly one through. A
customer holds one open checkout at a time (a new one gives the previous one back), so the
pairs are a payment and a checkout, or a late payment and a payment."""

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
from tickets.exceptions import LimitReached, SpendLimitReached
from tickets.models import CardFunding, Order, Refund, Ticket
from tickets.services import order_record_paid, postal_entry_add

from .conftest import completed_event, paid_event, post_event
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


def test_a_payment_and_a_new_checkout_that_each_fit_the_monthly_limit_but_not_together(
    on_postgres,
):
    """A customer holds one open checkout at a time (a new one gives the previous one back),
    so the race on the spend limit is between paying one and checking out another: whichever
    comes second finds the first's money counted (paid, or held by the new checkout)."""
    for round_ in range(ROUNDS):
        customer = UserFactory()
        limits.spend_limit_set(user=customer, monthly_limit=Decimal("10.00"))
        # Two competitions, so only the customer's row can keep the two apart.
        first, second = active_competition(), active_competition()  # £2.50 a ticket
        paying = reserve(customer, first, quantity=3)  # £7.50
        event = completed_event(paying, event_id=f"evt_spend_{round_}")

        pay, check_out = in_parallel(
            lambda e=event: post_event(Client(), e),
            lambda c=customer, s=second: reserve(c, s, quantity=3),
        )

        assert pay.status_code == 200, pay
        outcome = pay.json()["outcome"]
        paying.refresh_from_db()
        if outcome == "paid":  # the payment first: the checkout finds £7.50 spent
            assert isinstance(check_out, SpendLimitReached), check_out
            assert "you can spend £2.50 more this month" in str(check_out)
            assert not Order.objects.filter(user=customer).exclude(pk=paying.pk).exists()
        else:  # the checkout first: it gave the first one back, whose late payment is refunded
            assert isinstance(check_out, Order), check_out
            assert outcome.startswith("refunded: This order (£7.50) would take you over")
            assert paying.status == Order.Status.REFUNDED
            assert not paying.tickets.exists()
        assert spending.monthly_spend(customer) == Decimal("7.50") <= Decimal("10.00")


def test_two_credit_card_payments_that_together_exceed_the_cap(on_postgres, fake_stripe):
    """The customer's given-up checkout (paid late) and their new one (paid on time), both by
    credit card: either fits under the cap, both do not."""
    settings_row = OperatorSettings.current()
    settings_row.credit_card_monthly_cap = Decimal("250.00")
    settings_row.save()
    for round_ in range(ROUNDS):
        customer = UserFactory()
        orders = [
            reserve(customer, active_competition(ticket_price=Decimal("50.00")), quantity=3)
            for _ in range(2)
        ]  # £150 each; the second checkout gave the first one's numbers back
        events = [
            paid_event(fake_stripe, order, funding="credit", event_id=f"evt_{round_}_{order.pk}")
            for order in orders
        ]

        responses = in_parallel(*(lambda e=e: post_event(Client(), e) for e in events))

        assert [r.status_code for r in responses] == [200, 200]
        outcomes = sorted(r.json()["outcome"] for r in responses)
        assert outcomes[0].startswith("paid"), outcomes
        assert outcomes[1].startswith("refunded: Paying £150.00 by credit card"), outcomes
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
    # Paid, so the new checkout keeps it (a pending one it would give back).
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
