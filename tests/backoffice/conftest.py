"""Clients for the three kinds of people who reach /admin/: Operations staff, Support staff and
a customer (not staff), and helpers to post admin actions the way the changelist form does."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.urls import reverse

from core.models import AuditEntry
from draws.models import Draw
from draws.services import draw_perform
from tests.factories import UserFactory, active_competition, client_for, correct_answer
from tickets.services import order_record_paid


@pytest.fixture
def operations_user(db):
    user = UserFactory(email="ops@fairdraw.example", first_name="Olivia", is_staff=True)
    user.groups.add(Group.objects.get(name="Operations"))
    return user


@pytest.fixture
def support_user(db):
    user = UserFactory(email="support@fairdraw.example", first_name="Sam", is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    return user


@pytest.fixture
def operations(operations_user):
    return client_for(operations_user)


@pytest.fixture
def support(support_user):
    return client_for(support_user)


@pytest.fixture
def customer_client(db):
    return client_for(UserFactory(email="not.staff@example.com"))


@pytest.fixture
def sale(db):
    """An active competition with a paid three-ticket order by one customer."""
    customer = UserFactory(
        email="sarah.khan@example.com", first_name="Sarah", last_name="Khan", phone="+447700900123"
    )
    competition = active_competition(title="Win a Tesla", slug="win-a-tesla")
    order = order_record_paid(
        user=customer, competition=competition, answer=correct_answer(competition), quantity=3
    )
    return SimpleNamespace(
        customer=customer,
        competition=competition,
        order=order,
        tickets=list(order.tickets.order_by("number")),
    )


@pytest.fixture
def drawn(sale, operations_user):
    """`sale`, drawn: its winner awaits verification."""
    draw = draw_perform(
        competition=sale.competition,
        mode=Draw.Mode.ADMIN,
        by=operations_user,
        now=sale.competition.ends_at + timedelta(minutes=1),
    )
    sale.competition.refresh_from_db()
    sale.draw = draw
    sale.winner = draw.winners.get()
    return sale


def changelist(label: str) -> str:
    app_label, model_name = label.split(".")
    return reverse(f"admin:{app_label}_{model_name}_changelist")


def post_action(client, label: str, action: str, objects, **extra):
    data = {"action": action, ACTION_CHECKBOX_NAME: [str(o.pk) for o in objects], **extra}
    return client.post(changelist(label), data)


def confirm_action(client, label: str, action: str, objects, **extra):
    """Post the action, check it asks first (and changed nothing yet), then confirm it."""
    first = post_action(client, label, action, objects)
    assert first.status_code == 200, first
    assert "admin/backoffice/confirm.html" in [t.name for t in first.templates]
    return first, post_action(client, label, action, objects, confirmed="yes", **extra)


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def audit_entries(action: str, obj=None):
    entries = AuditEntry.objects.filter(action=action)
    if obj is not None:
        entries = entries.filter(object_id=str(obj.pk))
    return list(entries)
