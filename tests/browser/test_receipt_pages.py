"""Signed receipts in a real browser (headless Debian chromium): "Your tickets" links each order's
and postal entry's receipt with a plain-English explanation, the download is the signed JSON, and
the draw page and How we comply publish the signing keys. Screenshots, desktop and phone width,
go to test-artefacts/receipts/."""

import json

import pytest

from tests.browser import test_journey
from tests.browser.screens import DESKTOP, PHONE, artefacts
from tests.factories import PASSWORD, UserFactory, active_competition, correct_answer
from tickets import receipts
from tickets.models import Receipt
from tickets.services import order_record_paid, postal_entry_add

FOLDER = "receipts"
ARTEFACTS = artefacts(FOLDER)


def shot(page, name: str, locator=None) -> None:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        target = locator or page
        kwargs = {} if locator else {"full_page": True}
        target.screenshot(path=str(ARTEFACTS / f"{name}-{size}.png"), **kwargs)
    page.set_viewport_size(DESKTOP)


@pytest.mark.django_db(transaction=True)
def test_customer_downloads_receipts_and_finds_the_keys(browser_page, live_server, tmp_path):
    from playwright.sync_api import expect

    page = browser_page
    blocked = test_journey.csp_violations(page)
    competition = active_competition(title="Win a Porsche 911", slug="win-a-porsche-911")
    customer = UserFactory(email="jo.bloggs@example.com", first_name="Jo", last_name="Bloggs")
    order = order_record_paid(
        user=customer, competition=competition, answer=correct_answer(competition), quantity=5
    )
    postal_entry_add(user=customer, competition=competition, quantity=1)
    postal = Receipt.objects.get(kind=Receipt.Kind.POSTAL)

    page.goto(f"{live_server.url}/account/login/")
    page.get_by_label("E-mail address").fill(customer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/account/")

    tickets = page.locator("section[aria-labelledby='tickets-title']")
    page.get_by_text("Signed receipts: what they are for").click()
    expect(tickets).to_contain_text("signed with our published key")
    expect(tickets.locator(".entry-receipts")).to_contain_text(order.reference)
    expect(tickets.locator(".entry-receipts")).to_contain_text(postal.reference)
    shot(page, "01-your-tickets")

    with page.expect_download() as download:
        tickets.get_by_role(
            "link", name=f"Download the signed receipt for order {order.reference} (JSON)"
        ).click()
    saved = tmp_path / "receipt.json"
    download.value.save_as(saved)
    document = json.loads(saved.read_text())
    assert document["receipt"]["reference"] == order.reference
    keys = [
        receipts.PublishedKey.from_json(k)
        for k in page.request.get(f"{live_server.url}/receipts/keys.json").json()["keys"]
    ]
    assert all(check.ok for check in receipts.signature_checks(document, keys))

    page.goto(f"{live_server.url}/competitions/{competition.slug}/draw/")
    section = page.locator("#receipt-keys")
    expect(section).to_contain_text(receipts.DEV_KEY_ID)
    expect(section).to_contain_text("Current")
    shot(page, "02-draw-page-keys", section)

    page.goto(f"{live_server.url}/how-we-comply/")
    expect(page.locator("#receipt-keys")).to_contain_text(receipts.DEV_KEY.public_key)
    shot(page, "03-how-we-comply-keys", page.locator("#receipt-keys"))
    assert not blocked
