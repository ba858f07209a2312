"""Cancel and refund all, as a background job (tickets.cancellation): sales stop at once, the
orders are refunded in batches, a job that stops half-way resumes without refunding twice."""

from collections import Counter
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from competitions.lifecycle import Status
from competitions.models import Competition
from core.models import AuditEntry
from notifications.models import Notification
from tests.factories import UserFactory, active_competition
from tickets import cancellation, payments
from tickets.cancellation import cancellation_job_run, cancellation_jobs_resume, competition_cancel
from tickets.exceptions import SalesClosed
from tickets.models import CancellationJob, Order, Refund, Ticket
from tickets.services import order_fulfil, postal_entry_add, refund_sweep

from .helpers import reserve

pytestmark = pytest.mark.django_db


def later(minutes: float):
    return timezone.now() + timedelta(minutes=minutes)


@pytest.fixture
def sale(fake_stripe):
    """A competition with five paid orders (two tickets each), a free postal entry and a
    checkout in progress."""
    competition = active_competition(max_tickets=100, max_tickets_per_user=10)
    orders = []
    for _ in range(5):
        order = reserve(UserFactory(), competition, quantity=2)
        intent = f"pi_test_{order.pk}"
        fake_stripe.add_payment(intent, amount=payments.to_pence(order.total))
        order_fulfil(order_id=order.pk, payment_intent_id=intent)
        orders.append(order)
    postal = postal_entry_add(user=UserFactory(), competition=competition)
    checkout = reserve(UserFactory(), competition, quantity=1)
    return SimpleNamespace(competition=competition, orders=orders, postal=postal, checkout=checkout)


def cancel(competition) -> CancellationJob:
    competition_cancel(competition=competition, by=UserFactory(is_staff=True), reason="No prize")
    return CancellationJob.objects.get(competition=competition)


def refunds_per_order(orders) -> Counter:
    return Counter(Refund.objects.filter(order__in=orders).values_list("order_id", flat=True))


def test_cancelling_stops_sales_at_once_and_leaves_the_refunds_to_the_job(sale):
    competition = sale.competition

    job = cancel(competition)

    competition.refresh_from_db()
    assert competition.status == Status.CANCELLED and competition.cancelled_at
    with pytest.raises(SalesClosed):
        reserve(UserFactory(), competition, quantity=1)
    assert (job.status, job.orders_total, job.orders_done) == ("running", 5, 0)
    assert not Refund.objects.exists()  # nothing refunded inside the cancel's transaction
    [entry] = AuditEntry.objects.filter(action="competition.cancel")
    assert entry.note == "No prize (5 orders to refund)"


def test_the_job_refunds_everyone_exactly_once_in_batches(sale, fake_stripe, monkeypatch):
    competition, orders = sale.competition, sale.orders
    job = cancel(competition)
    batches = []
    batch = cancellation.cancellation_batch_refund

    def counted(**kw):
        batches.append(batch(**kw))
        return batches[-1]

    monkeypatch.setattr(cancellation, "cancellation_batch_refund", counted)

    job = cancellation_job_run(job_id=job.pk, batch_size=2)

    assert batches == [2, 2, 1, 0]
    assert (job.status, job.orders_refunded, job.orders_failed) == ("done", 5, 0)
    assert job.progress == "done: 5 orders refunded"
    assert refunds_per_order(orders) == {order.pk: 1 for order in orders}
    assert set(Refund.objects.values_list("reason", flat=True)) == {"competition_cancelled"}
    assert Order.objects.get(pk=sale.checkout.pk).status == Order.Status.CANCELLED
    assert set(Ticket.objects.filter(competition=competition).values_list("status", flat=True)) == {
        Ticket.Status.REFUNDED
    }
    assert Competition.objects.get(pk=competition.pk).tickets_sold == 0
    # Every customer is told, as before.
    told = Notification.objects.filter(kind=Notification.Kind.ORDER_REFUNDED)
    assert {n.user_id for n in told} >= {order.user_id for order in orders}
    [done] = AuditEntry.objects.filter(action="competition.cancel_done")
    assert done.after == {"orders_refunded": 5, "orders_failed": 0, "postal_entries_voided": 1}
    # The money goes out through the refunds' outbox: one refund per payment at Stripe.
    assert refund_sweep(now=later(3)) == 5
    sent = Counter(c.params["payment_intent"] for c in fake_stripe.calls("POST", "/v1/refunds"))
    assert sent == {f"pi_test_{order.pk}": 1 for order in orders}
    # Running it again changes nothing.
    assert cancellation_job_run(job_id=job.pk, batch_size=2).status == "done"
    assert Refund.objects.count() == 5


def test_a_job_killed_after_its_first_batch_resumes_without_refunding_twice(sale, monkeypatch):
    competition, orders = sale.competition, sale.orders
    job = cancel(competition)
    batch = cancellation.cancellation_batch_refund
    calls = []

    def dies_after_one_batch(**kw):
        calls.append(kw)
        if len(calls) > 1:
            raise RuntimeError("worker killed")
        return batch(**kw)

    monkeypatch.setattr(cancellation, "cancellation_batch_refund", dies_after_one_batch)
    with pytest.raises(RuntimeError):
        cancellation_job_run(job_id=job.pk, batch_size=2)
    monkeypatch.undo()

    job.refresh_from_db()
    assert (job.status, job.orders_refunded, job.last_order_id) == ("running", 2, orders[1].pk)
    assert job.progress == "2 of 5 orders (40%)"
    assert refunds_per_order(orders) == {orders[0].pk: 1, orders[1].pk: 1}

    assert cancellation_jobs_resume(now=later(1)) == 0  # it may still be working
    assert cancellation_jobs_resume(now=later(3)) == 1  # stalled: beat queues it again

    job.refresh_from_db()
    assert (job.status, job.orders_refunded) == ("done", 5)
    assert refunds_per_order(orders) == {order.pk: 1 for order in orders}
    assert cancellation_jobs_resume(now=later(10)) == 0


def test_a_job_killed_in_the_middle_of_a_batch_loses_only_that_batch(sale, monkeypatch):
    competition, orders = sale.competition, sale.orders
    job = cancel(competition)
    refund = cancellation.order_refund
    calls = []

    def dies_on_the_third_order(**kw):
        calls.append(kw["order"].pk)
        if len(calls) == 3:
            raise RuntimeError("worker killed")
        return refund(**kw)

    monkeypatch.setattr(cancellation, "order_refund", dies_on_the_third_order)
    with pytest.raises(RuntimeError):
        cancellation_job_run(job_id=job.pk, batch_size=3)
    monkeypatch.undo()

    job.refresh_from_db()
    assert (job.orders_refunded, job.last_order_id) == (0, 0)  # the batch rolled back whole
    assert not Refund.objects.exists()
    assert Ticket.objects.filter(order=orders[0], status=Ticket.Status.ACTIVE).count() == 2

    job = cancellation_job_run(job_id=job.pk, batch_size=3)
    assert (job.status, job.orders_refunded) == ("done", 5)
    assert refunds_per_order(orders) == {order.pk: 1 for order in orders}


def test_an_order_that_cannot_be_refunded_is_listed_and_the_rest_go_on(sale):
    competition, orders = sale.competition, sale.orders
    job = cancel(competition)
    # Refunded by staff meanwhile, except that its tickets still look live: refused.
    Order.objects.filter(pk=orders[2].pk).update(status=Order.Status.REFUNDED)

    job = cancellation_job_run(job_id=job.pk, batch_size=2)

    assert (job.status, job.orders_refunded, job.orders_failed) == ("done", 4, 1)
    assert len(job.failures) == 1 and orders[2].reference in job.failures[0]
    assert "1 not refunded" in job.progress
    assert orders[2].pk not in refunds_per_order(orders)


def test_the_competition_page_and_the_job_list_show_the_progress(admin_client, sale):
    competition = sale.competition
    job = cancel(competition)
    cancellation.cancellation_batch_refund(job_id=job.pk, batch_size=2)

    page = admin_client.get(reverse("admin:competitions_competition_change", args=[competition.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Cancellation" in html and "2 of 5 orders (40%)" in html
    assert reverse("admin:tickets_cancellationjob_change", args=[job.pk]) in html

    listing = admin_client.get(reverse("admin:tickets_cancellationjob_changelist"))
    assert "2 of 5 orders (40%)" in listing.content.decode()
    detail = admin_client.get(reverse("admin:tickets_cancellationjob_change", args=[job.pk]))
    assert detail.status_code == 200 and "No prize" in detail.content.decode()


def test_a_competition_never_cancelled_shows_no_cancellation_section(admin_client):
    competition = active_competition()
    page = admin_client.get(reverse("admin:competitions_competition_change", args=[competition.pk]))
    assert page.status_code == 200
    assert "cancellation_progress" not in page.content.decode()
