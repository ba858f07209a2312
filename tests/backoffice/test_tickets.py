import csv
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.urls import reverse

from tests.backoffice.conftest import (
    audit_entries,
    changelist,
    confirm_action,
    messages_of,
    post_action,
)
from tests.factories import UserFactory, active_competition
from tickets.export import COLUMNS
from tickets.models import Order, Refund, Ticket
from tickets.services import postal_entry_add

pytestmark = pytest.mark.django_db


def read_csv(response) -> list[dict]:
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("who", ["operations", "support"])
def test_refund_shows_tickets_and_amount_then_refunds_and_audits(request, who, sale):
    client = request.getfixturevalue(who)
    two = sale.tickets[:2]
    first, done = confirm_action(client, "tickets.ticket", "refund", two, reason="asked by phone")
    page = first.content.decode()
    assert "£5.00" in page and f"#{two[0].number}" in page
    assert done.status_code == 302
    assert Ticket.objects.filter(pk__in=[t.pk for t in two], status="refunded").count() == 2
    order = Order.objects.get(pk=sale.order.pk)
    assert order.status == Order.Status.PARTIALLY_REFUNDED
    assert order.amount_refunded == Decimal("5.00")
    [entry] = audit_entries("order.refund", order)
    assert entry.before["status"] == "paid" and entry.after["amount"] == "5.00"
    assert entry.note == "asked by phone" and entry.actor == request.getfixturevalue(f"{who}_user")


def test_refund_is_refused_once_drawn(operations, drawn):
    first, done = confirm_action(operations, "tickets.ticket", "refund", drawn.tickets)
    assert "drawn, no more refunds" in first.content.decode()
    assert any("drawn" in m for m in messages_of(done))
    assert not Ticket.objects.filter(status="refunded").exists()
    assert audit_entries("order.refund") == []


def test_a_postal_entry_has_nothing_to_refund(operations, sale):
    [postal] = postal_entry_add(user=sale.customer, competition=sale.competition)
    post_action(operations, "tickets.ticket", "refund", [postal], confirmed="yes")
    postal.refresh_from_db()
    assert postal.status == "active"


def test_export_streams_the_changelist_filters_and_search(support, sale):
    other = active_competition(title="Win a Rolex", slug="win-a-rolex")
    Ticket.objects.create(
        competition=other,
        number=1,
        user=UserFactory(),
        source="postal",
        purchased_at=sale.order.paid_at,
    )
    export = reverse("admin:tickets_ticket_export")
    everything = support.get(export)
    assert everything.streaming and everything["Content-Type"] == "text/csv"
    assert len(read_csv(everything)) == 4

    filtered = read_csv(support.get(export + f"?competition__id__exact={sale.competition.pk}"))
    assert {row["competition"] for row in filtered} == {"win-a-tesla"}
    assert list(filtered[0]) == [name for name, _ in COLUMNS]
    assert filtered[0]["order_reference"] == sale.order.reference

    number = str(sale.tickets[1].number)
    searched = read_csv(
        support.get(export + f"?q={number}&competition__id__exact={sale.competition.pk}")
    )
    assert [row["number"] for row in searched] == [number]
    by_email = read_csv(support.get(export + "?q=sarah.khan"))
    assert len(by_email) == 3

    changelist_html = support.get(changelist("tickets.ticket") + "?source__exact=paid").content
    assert b"export.csv?source__exact=paid" in changelist_html


def test_export_command_by_slug_or_id_with_the_same_columns(sale, capsys):
    call_command("export_tickets", "win-a-tesla")
    by_slug = capsys.readouterr().out
    call_command("export_tickets", str(sale.competition.pk))
    assert capsys.readouterr().out == by_slug
    rows = list(csv.DictReader(io.StringIO(by_slug)))
    assert [int(r["number"]) for r in rows] == sorted(t.number for t in sale.tickets)
    assert rows[0]["customer_email"] == "sarah.khan@example.com"


def test_export_command_says_when_there_is_no_such_competition(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("export_tickets", "nope")


def test_operations_add_free_postal_entries(operations, operations_user, sale):
    url = reverse("admin:tickets_ticket_postal")
    assert operations.get(url).status_code == 200
    response = operations.post(
        url,
        {
            "email": "SARAH.KHAN@example.com",
            "competition": sale.competition.pk,
            "quantity": 2,
            "note": "postcard 24 Nov",
        },
    )
    assert response.status_code == 302
    postal = Ticket.objects.filter(source="postal", user=sale.customer)
    assert postal.count() == 2
    [entry] = audit_entries("ticket.postal_entry", sale.competition)
    assert entry.actor == operations_user
    assert sorted(entry.after["numbers"]) == sorted(postal.values_list("number", flat=True))


def test_postal_entries_keep_the_sale_rules(operations, sale):
    url = reverse("admin:tickets_ticket_postal")
    response = operations.post(
        url,
        {"email": "sarah.khan@example.com", "competition": sale.competition.pk, "quantity": 500},
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    unknown = operations.post(
        url, {"email": "nobody@example.com", "competition": sale.competition.pk, "quantity": 1}
    )
    assert "No customer has that e-mail" in unknown.content.decode()
    assert not Ticket.objects.filter(source="postal").exists()


def test_support_cannot_add_postal_entries(support, sale):
    url = reverse("admin:tickets_ticket_postal")
    assert support.get(url).status_code == 403
    assert b"Add free postal entries" not in support.get(changelist("tickets.ticket")).content


def test_retry_failed_refund(support, sale, monkeypatch):
    refund = Refund.objects.create(order=sale.order, amount=Decimal("2.50"), status="failed")
    calls = []

    def fake_submit(*, refund_id):
        calls.append(refund_id)
        Refund.objects.filter(pk=refund_id).update(status="succeeded")
        return Refund.objects.get(pk=refund_id)

    # The retry service writes the audit entry; only the call to the gateway is faked.
    monkeypatch.setattr("tickets.services.refunds.refund_submit", fake_submit)
    post_action(support, "tickets.refund", "retry", [refund])
    assert calls == [refund.pk]
    [entry] = audit_entries("refund.retry", refund)
    assert entry.after["status"] == "succeeded"


def test_payment_events_and_refunds_are_view_only(operations, sale):
    refund = Refund.objects.create(order=sale.order, amount=Decimal("2.50"))
    change = reverse("admin:tickets_refund_change", args=[refund.pk])
    assert operations.get(change).status_code == 200
    assert operations.post(change, {}).status_code == 403
    assert operations.get(reverse("admin:tickets_refund_add")).status_code == 403


def test_non_staff_cannot_refund_or_export(customer_client, sale):
    response = post_action(
        customer_client, "tickets.ticket", "refund", sale.tickets, confirmed="yes"
    )
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not Ticket.objects.filter(status="refunded").exists()
    export = customer_client.get(reverse("admin:tickets_ticket_export"))
    assert export.status_code == 302 and not getattr(export, "streaming", False)
