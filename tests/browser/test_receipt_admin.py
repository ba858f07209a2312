"""Operations staff look up a customer's signed receipt in a real browser (headless Debian
chromium): the receipts list searched by e-mail, the receipt's page saying it verifies, with
its payload and signature, and the signing keys. Screenshots, desktop and phone width, go to
test-artefacts/receipts-admin/."""

import pytest
from django.contrib.auth.models import Group

from tests.browser import test_journey
from tests.browser.screens import shot
from tests.browser.staff import staff_log_in
from tests.factories import (
    UserFactory,
    active_competition,
    correct_answer,
)
from tickets import receipts
from tickets.models import Receipt
from tickets.services import order_record_paid, postal_entry_add

FOLDER = "receipts-admin"


@pytest.mark.django_db(transaction=True)
def test_staff_find_a_receipt_and_see_that_it_verifies(browser_page, live_server):
    from playwright.sync_api import expect

    page = browser_page
    blocked = test_journey.csp_violations(page)
    tesla = active_competition(title="Win a Tesla Model 3", slug="win-a-tesla-model-3")
    watch = active_competition(title="Win a Rolex Submariner", slug="win-a-rolex-submariner")
    sarah = UserFactory(email="sarah.khan@example.com", first_name="Sarah", last_name="Khan")
    tom = UserFactory(email="tom.price@example.com", first_name="Tom", last_name="Price")
    order = order_record_paid(
        user=sarah, competition=tesla, answer=correct_answer(tesla), quantity=3
    )
    order_record_paid(user=tom, competition=watch, answer=correct_answer(watch), quantity=5)
    postal_entry_add(user=sarah, competition=tesla)
    receipt = Receipt.objects.get(order=order)
    staff = UserFactory(email="ops@fairdraw.example", first_name="Olivia", is_staff=True)
    staff.groups.add(Group.objects.get(name="Operations"))

    staff_log_in(page, live_server.url, staff, next="/admin/tickets/receipt/")

    expect(page.get_by_role("heading", name="Select receipt to view")).to_be_visible()
    expect(page.locator("#result_list tbody tr")).to_have_count(3)
    shot(page, FOLDER, "01-receipts")

    page.locator("#searchbar").fill("sarah.khan@example.com")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    shot(page, FOLDER, "02-receipts-searched")

    page.get_by_role("link", name=receipt.reference, exact=True).first.click()
    expect(page.get_by_text("✓ Verifies")).to_be_visible()
    expect(page.get_by_text(receipt.signature)).to_be_visible()
    expect(page.locator("pre.fd-json")).to_contain_text('"kind": "order"')
    shot(page, FOLDER, "03-receipt")

    page.get_by_role("link", name=receipts.DEV_KEY_ID).click()
    expect(page.get_by_text("Receipts signed with it")).to_be_visible()
    page.goto(f"{live_server.url}/admin/tickets/receiptkey/")
    expect(page.get_by_text("manage.py receipt_key")).to_be_visible()
    shot(page, FOLDER, "04-receipt-keys")
    assert blocked == []
