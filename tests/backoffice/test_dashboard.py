from decimal import Decimal

import pytest
from django.urls import reverse

from notifications.models import Notification
from tests.factories import correct_answer
from tickets.services import order_record_paid

pytestmark = pytest.mark.django_db


def test_dashboard_on_the_admin_index(operations, drawn, django_assert_max_num_queries):
    Notification.objects.create(
        kind="winner_announced",
        channel="email",
        recipient="x@example.com",
        idempotency_key="k1",
        status="failed",
    )
    response = operations.get(reverse("admin:index"))
    html = response.content.decode()
    assert 'id="staff-dashboard"' in html
    assert "£7.50" in html  # three £2.50 tickets paid today
    assert drawn.winner.display_name in html  # awaiting approval
    assert 'status__exact=failed">1<' in html


def test_dashboard_queries_do_not_grow_with_rows(operations, sale, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    index = reverse("admin:index")
    with CaptureQueriesContext(connection) as one:
        operations.get(index)
    for _ in range(3):
        order_record_paid(
            user=sale.customer,
            competition=sale.competition,
            answer=correct_answer(sale.competition),
            quantity=1,
        )
    from tests.factories import active_competition

    active_competition(title="Win a Rolex", slug="win-a-rolex")
    with CaptureQueriesContext(connection) as more:
        html = operations.get(index).content.decode()
    assert len(more.captured_queries) == len(one.captured_queries)
    assert "Win a Rolex" in html and f"£{Decimal('15.00')}" in html


def test_support_sees_the_dashboard_customers_do_not(support, customer_client, sale):
    assert 'id="staff-dashboard"' in support.get(reverse("admin:index")).content.decode()
    assert customer_client.get(reverse("admin:index")).status_code == 302
