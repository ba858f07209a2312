"""Multi-buy bundles and a discount code in a real browser (headless Debian chromium): the
competition page's bundle buttons, the basket's breakdown and "Apply code", then checkout and
the test payment page, paying exactly the total shown. Screenshots, desktop and phone width, go
to test-artefacts/offers/."""

import re
from decimal import Decimal

import pytest

from competitions.models import Bundle
from tests.browser import screens
from tests.browser.screens import artefacts
from tests.factories import PASSWORD, UserFactory, active_competition
from tickets.models import DiscountCode, Order, PaymentEvent

FOLDER = "offers"
ARTEFACTS = artefacts(FOLDER)


def shot(page, name: str) -> None:
    screens.shot(page, FOLDER, name)


@pytest.mark.django_db(transaction=True)
def test_a_customer_buys_a_bundle_with_a_discount_code(browser_page, live_server):
    from playwright.sync_api import expect

    page = browser_page
    competition = active_competition(
        title="Win £10,000 Tax-Free Cash",
        slug="win-10000-cash",
        ticket_price=Decimal("0.99"),
        max_tickets=4000,
        max_tickets_per_user=100,
    )
    Bundle.objects.create(competition=competition, quantity=5, price=Decimal("4.00"))
    Bundle.objects.create(competition=competition, quantity=10, price=Decimal("7.50"))
    DiscountCode.objects.create(code="WELCOME10", percent=Decimal("10"))
    customer = UserFactory(email="sam.jones@example.com", first_name="Sam")

    page.goto(f"{live_server.url}/account/login/")
    page.get_by_label("E-mail address").fill(customer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # The competition page offers the bundles with what each saves.
    page.goto(live_server.url + competition.get_absolute_url())
    bundles = page.locator(".bundle-options")
    expect(bundles).to_contain_text("5 for £4.00")
    expect(bundles).to_contain_text("save £0.95")
    expect(bundles).to_contain_text("10 for £7.50")
    expect(bundles).to_contain_text("save £2.40")
    page.get_by_label("Edinburgh", exact=True).check()
    page.locator(".bundle-options label", has_text="10 for £7.50").click()
    expect(page.locator("#qty-10")).to_be_checked()
    shot(page, "01-competition-bundles")
    page.get_by_role("button", name="Add to basket").click()

    # The basket shows the bundle and its saving; the code takes 10% off.
    expect(page.get_by_role("heading", name="Your basket")).to_be_visible()
    expect(page.get_by_text("10 tickets: 10 for £7.50")).to_be_visible()
    expect(page.get_by_text(re.compile(r"You save £2\.40"))).to_be_visible()
    page.get_by_label("Discount code").fill("nope")
    page.get_by_role("button", name="Apply code").click()
    expect(page.get_by_text("We don’t recognise the code “NOPE”.")).to_be_visible()
    page.get_by_label("Discount code").fill("welcome10")
    page.get_by_role("button", name="Apply code").click()
    expect(page.get_by_text("Code WELCOME10 applied: 10% off.")).to_be_visible()
    total = page.get_by_test_id("order-total")
    expect(total).to_have_text("£6.75")  # £7.50 less 10%
    expect(page.get_by_role("button", name="Remove code WELCOME10")).to_be_visible()
    shot(page, "02-basket-with-code")

    # Checkout and the test payment page charge the same amount.
    page.get_by_role("link", name="Checkout").click()
    expect(page.get_by_test_id("order-total")).to_have_text("£6.75")
    shot(page, "03-checkout")
    page.get_by_role("button", name="Pay £6.75").click()
    expect(page.get_by_role("heading", name="Pay £6.75")).to_be_visible()
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page.get_by_role("heading", name="Your tickets")).to_be_visible()
    shot(page, "04-paid")

    order = Order.objects.get(user=customer)
    assert order.status == Order.Status.PAID
    assert order.total == Decimal("6.75")
    assert order.tickets.count() == 10
    event = PaymentEvent.objects.get(order=order)
    assert event.payload["data"]["object"]["amount_total"] == 675
    assert DiscountCode.objects.get(code="WELCOME10").uses == 1
