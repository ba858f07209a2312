"""Support staff work a harm flag in a real browser (headless Debian chromium): the list, the
flag's page with the customer's context, a note and closing the flag, then the customer's own
admin page with their spend limits. Screenshots, desktop and phone width, go to
test-artefacts/harm/."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from harm_signals.models import HarmAction, HarmFlag
from harm_signals.services import PAYMENT_FAILED, harm_signals_scan
from responsible_play.limits import spend_limit_set
from tests.browser.screens import DESKTOP, PHONE, artefacts
from tests.factories import (
    PASSWORD,
    CompetitionFactory,
    TicketFactory,
    UserFactory,
    totp_code,
)
from tickets.models import Order, PaymentEvent, Ticket

FOLDER = "harm"
ARTEFACTS = artefacts(FOLDER)


def _flagged_customers():
    now = timezone.now()
    jo = UserFactory(
        email="jo.bloggs@example.com", first_name="Jo", last_name="Bloggs", phone="+447700900123"
    )
    spend_limit_set(user=jo, monthly_limit=Decimal("100"), now=now - timedelta(hours=30))
    spend_limit_set(user=jo, monthly_limit=Decimal("250"), now=now - timedelta(hours=2))
    paid = Order.objects.create(user=jo, status=Order.Status.PAID, total=Decimal("95"), paid_at=now)
    failed = Order.objects.create(user=jo, status=Order.Status.CANCELLED, total=Decimal("20"))
    for n in range(3):
        PaymentEvent.objects.create(
            stripe_event_id=f"evt_declined_{n}", type=PAYMENT_FAILED, order=failed, payload={}
        )
    competition = CompetitionFactory(title="Win a Porsche 911")
    for _ in range(38):
        TicketFactory(user=jo, competition=competition, order=paid, source=Ticket.Source.PAID)
    sam = UserFactory(email="sam.taylor@example.com", first_name="Sam", last_name="Taylor")
    other = Order.objects.create(
        user=sam, status=Order.Status.PAID, total=Decimal("300"), paid_at=now
    )
    for _ in range(120):
        TicketFactory(user=sam, competition=competition, order=other, source=Ticket.Source.PAID)
    harm_signals_scan()
    return jo


@pytest.mark.django_db(transaction=True)
def test_support_works_a_harm_flag(browser_page, live_server):
    from playwright.sync_api import expect

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    jo = _flagged_customers()
    spend_flag = HarmFlag.objects.get(user=jo, rule=HarmFlag.Rule.SPEND_VS_LIMIT)
    staff = UserFactory(email="support@fairdraw.example", first_name="Priya", is_staff=True)
    staff.groups.add(Group.objects.get(name="Support"))
    page = browser_page

    def shot(name):
        page.set_viewport_size(DESKTOP)
        page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(ARTEFACTS / f"{name}-phone.png"), full_page=True)
        page.set_viewport_size(DESKTOP)

    page.goto(f"{live_server.url}/admin/login/?next=/admin/harm_signals/harmflag/")
    page.get_by_label("E-mail address").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # Staff have a second factor (the factory gives them an authenticator app): the code step.
    expect(page.get_by_role("heading", name="Two-Factor Authentication")).to_be_visible()
    page.get_by_label("Code").fill(totp_code())
    shot("00-second-factor")
    page.get_by_role("button", name="Sign In").click()

    expect(page.get_by_role("heading", name="Harm signals")).to_be_visible()
    expect(page.get_by_text("£95.00 of £100.00").first).to_be_visible()
    shot("01-harm-signals-list")

    page.get_by_role("row").filter(has_text="Spend close to the monthly limit").get_by_role(
        "link", name="Jo Bloggs jo.bloggs@example.com"
    ).click()
    expect(
        page.get_by_text("Spent £95.00 this month: 95% of their limit of £100.00")
    ).to_be_visible()
    expect(page.get_by_role("heading", name="Act on this flag")).to_be_visible()
    shot("02-harm-flag")

    note = page.locator("form#act-note")
    note.get_by_label("Note").fill("Called Jo: saving for a holiday, happy with £100.")
    note.get_by_label("This records a contact with the customer").check()
    note.get_by_role("button", name="Add note").click()
    expect(page.get_by_text("Contact recorded.")).to_be_visible()

    close = page.locator("form#act-close")
    close.get_by_label("Dismissed: no action needed").check()
    close.get_by_label("Note").fill("Spending within their means; limit stays at £100.")
    close.get_by_role("button", name="Close flag").click()
    expect(page.get_by_text("Flag closed: dismissed.")).to_be_visible()
    expect(page.get_by_role("heading", name="Reopen this flag")).to_be_visible()
    shot("03-harm-flag-closed")

    spend_flag.refresh_from_db()
    assert spend_flag.status == HarmFlag.Status.DISMISSED and spend_flag.closed_by == staff
    assert list(spend_flag.actions.values_list("kind", flat=True)) == [
        HarmAction.Kind.DISMISSED,
        HarmAction.Kind.CONTACTED,
    ]

    # A break out of range comes back on the action's own page, beside the field.
    brk = page.locator("form#act-break")
    brk.get_by_label("A break of 1 to 42 days").check()
    brk.get_by_label("How long").fill("43")
    brk.get_by_label("Note").fill("Jo asked for a long pause.")
    brk.get_by_role("button", name="Impose break").click()
    expect(page.get_by_text("A break lasts from 1 to 42 days.")).to_be_visible()
    expect(page.get_by_label("Note")).to_have_value("Jo asked for a long pause.")
    shot("04-impose-break-error")
    jo.refresh_from_db()
    assert not jo.exclusion_kind

    page.goto(f"{live_server.url}/admin/accounts/user/{jo.pk}/change/")
    expect(page.get_by_text("Pending change: £250.00")).to_be_visible()
    page.get_by_role("heading", name="Spend limits and harm signals").scroll_into_view_if_needed()
    shot("05-user-spend-limits")
