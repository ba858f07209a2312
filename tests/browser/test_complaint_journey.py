"""A customer complains in a real browser (headless Debian chromium): from the How we comply
page to the form, a reference on the confirmation page, then, after support has replied and
resolved it, the reply under "Your complaints". Screenshots, desktop and phone width, go to
test-artefacts/complaints/."""

import pytest

from complaints.models import Complaint
from complaints.services import complaint_add_note, complaint_resolve, complaint_respond
from tests.browser import screens
from tests.browser.screens import artefacts
from tests.factories import PASSWORD, UserFactory, active_competition, operator_settings

FOLDER = "complaints"
ARTEFACTS = artefacts(FOLDER)


def shot(page, name: str) -> None:
    screens.shot(page, FOLDER, name)


@pytest.mark.django_db(transaction=True)
def test_a_customer_complains_and_reads_the_reply(browser_page, live_server):
    from playwright.sync_api import expect

    page = browser_page
    operator_settings(complaint_response_days=3, complaint_resolution_days=21)
    active_competition(title="Win a Porsche 911", slug="win-a-porsche-911")
    customer = UserFactory(email="jo.bloggs@example.com", first_name="Jo", last_name="Bloggs")
    staff = UserFactory(is_staff=True, email="support@fairdraw.example")

    page.goto(f"{live_server.url}/account/login/")
    page.get_by_label("E-mail address").fill(customer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # The How we comply page states the live targets and leads to the form.
    page.goto(f"{live_server.url}/how-we-comply/")
    complaints = page.locator("#complaints")
    expect(complaints).to_contain_text("within 3 days")
    expect(complaints).to_contain_text("within 21 days")
    complaints.get_by_role("link", name="Make a complaint").click()

    # Logged in, the form knows who is complaining.
    expect(page.get_by_label("Your name")).to_have_value("Jo Bloggs")
    expect(page.get_by_label("E-mail address")).to_have_value(customer.email)
    page.get_by_label("What is it about?").select_option("purchase")
    page.get_by_label("Competition").select_option(label="Win a Porsche 911")
    page.get_by_label("Tell us what happened").fill("Too short")
    page.get_by_role("button", name="Send complaint").click()
    # Bad input: a clear message, and nothing logged.
    expect(page.locator("#id_message_error")).to_contain_text("Tell us a little more")
    assert not Complaint.objects.exists()
    shot(page, "01-form-error")

    page.get_by_label("Tell us what happened").fill(
        "I paid for ten tickets but only five show under Your tickets."
    )
    page.get_by_role("button", name="Send complaint").click()
    complaint = Complaint.objects.get()
    expect(page.locator(".complaint-reference")).to_have_text(complaint.reference)
    assert complaint.user == customer and complaint.competition.slug == "win-a-porsche-911"
    shot(page, "02-received")

    # Support replies, keeps a note to themselves, and resolves it.
    complaint_respond(
        complaint=complaint, by=staff, message="Sorry, Jo: the other five are now on your account."
    )
    complaint_add_note(complaint=complaint, by=staff, message="Checked the order by hand.")
    complaint_resolve(complaint=complaint, by=staff, message="Glad that is sorted.")

    page.goto(f"{live_server.url}/account/complaints/")
    page.get_by_role("link", name=complaint.reference).click()
    expect(page.get_by_text("the other five are now on your account")).to_be_visible()
    expect(page.get_by_text("Glad that is sorted.")).to_be_visible()
    expect(page.get_by_text("Resolved").first).to_be_visible()
    # Internal notes are never shown to the customer.
    expect(page.get_by_text("Checked the order by hand.")).to_have_count(0)
    shot(page, "03-your-complaint")
