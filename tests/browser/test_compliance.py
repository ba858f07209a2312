"""How we comply with its figures, and the staff side (the compliance report and a skill
question flagged as too easy), in a real browser (headless Debian chromium). Nothing may be
blocked by the Content-Security-Policy (the journey's `browser_page` checks). Screenshots,
desktop and phone width, go to test-artefacts/compliance/."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from complaints.services import complaint_respond, complaint_submit
from draws.models import Draw
from draws.services import draw_perform
from draws.verification import verify_and_record
from tests.browser.screens import DESKTOP, PHONE, artefacts
from tests.browser.staff import staff_log_in
from tests.factories import (
    TicketFactory,
    UserFactory,
    active_competition,
    correct_answer,
    operator_settings,
    wrong_answer,
)
from tickets.services import order_record_paid, postal_entry_add

FOLDER = "compliance"
ARTEFACTS = artefacts(FOLDER)


def _records():
    """A little of everything the figures count, made by the real services."""
    now = timezone.now()
    operator_settings(skill_warning_wrong_percent=10, skill_warning_min_answers=10)
    easy = active_competition(title="Win a Porsche 911", max_tickets=500, max_tickets_per_user=10)
    for n in range(12):
        answer = wrong_answer(easy) if n == 0 else correct_answer(easy)
        order_record_paid(user=UserFactory(), competition=easy, answer=answer, quantity=2)
    today = timezone.localdate(now)
    for waited in (0, 1, 2):
        postal_entry_add(
            user=UserFactory(), competition=easy, received_on=today - timedelta(days=waited)
        )
    staff = UserFactory(is_staff=True)
    for days_ago, replied in ((12, 2), (8, 6)):
        complaint = complaint_submit(
            name="Ann Other",
            email="ann@example.com",
            category="prize",
            message="My prize has not arrived yet, can you check?",
            now=now - timedelta(days=days_ago),
        )
        complaint_respond(
            complaint=complaint,
            by=staff,
            message="We are on it.",
            now=now - timedelta(days=days_ago - replied),
        )
    drawn = active_competition(
        title="£10,000 Tax-Free Cash",
        now=now - timedelta(days=4),
        starts_at=now - timedelta(days=4),
        ends_at=now - timedelta(hours=1),
        max_tickets=50,
        max_tickets_per_user=50,
    )
    for number in range(1, 9):
        TicketFactory(competition=drawn, number=number)
    verify_and_record(draw_perform(competition=drawn, mode=Draw.Mode.ADMIN))
    return easy


def _shots(page):
    ARTEFACTS.mkdir(parents=True, exist_ok=True)

    def shot(name):
        page.set_viewport_size(DESKTOP)
        page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(ARTEFACTS / f"{name}-phone.png"), full_page=True)
        page.set_viewport_size(DESKTOP)

    return shot


@pytest.mark.django_db(transaction=True)
def test_how_we_comply_shows_its_figures(browser_page, live_server):
    from playwright.sync_api import expect

    _records()
    page = browser_page
    shot = _shots(page)

    page.goto(f"{live_server.url}/how-we-comply/")
    expect(page.get_by_role("heading", name="How we comply", level=1)).to_be_visible()
    expect(page.get_by_text("Figures as at")).to_contain_text(
        timezone.localtime().strftime("%-d %B %Y")
    )
    free_entry = page.locator("#free-entry")
    postal = free_entry.locator(".compliance-figure").filter(
        has_text="Free postal entries recorded"
    )
    expect(postal.first.locator(".compliance-value")).to_have_text("3")
    expect(free_entry.get_by_text("Time to enter a postcard (median)").first).to_be_visible()
    draws = page.locator("#draws .compliance-figure").filter(has_text="Draws verified")
    expect(draws.locator(".compliance-value")).to_have_text("1 of 1")
    complaints = page.locator("#complaints .compliance-figure").filter(
        has_text="Complaints answered within our target"
    )
    expect(complaints.first.locator(".compliance-value")).to_have_text("50%")
    shot("01-how-we-comply")

    # On a phone the figures stack in one column, inside the page's width.
    page.set_viewport_size(PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways on a phone ({width}px)"


@pytest.mark.django_db(transaction=True)
def test_staff_see_a_weak_question_and_download_the_report(browser_page, live_server):
    from playwright.sync_api import expect

    easy = _records()
    staff = UserFactory(email="ops@fairdraw.example", first_name="Olivia", is_staff=True)
    staff.groups.add(Group.objects.get(name="Operations"))
    page = browser_page
    shot = _shots(page)

    staff_log_in(page, live_server.url, staff)

    expect(page.get_by_role("heading", name="Skill questions to review")).to_be_visible()
    review = page.locator("#weak-questions")
    expect(review.get_by_role("link", name=easy.title)).to_be_visible()
    expect(review.get_by_text("1 of 12 answers wrong (8.3%)")).to_be_visible()
    shot("02-dashboard")

    review.get_by_role("link", name=easy.title).click()
    expect(page.get_by_text("Nearly everyone answers correctly")).to_be_visible()
    shot("03-competition-skill-question")

    page.goto(f"{live_server.url}/admin/")
    page.get_by_role("link", name="Compliance report").click()
    expect(page.get_by_role("heading", name="Compliance report")).to_be_visible()
    expect(page.get_by_text("Free postal entries recorded").first).to_be_visible()
    expect(page.get_by_text("figures as at")).to_contain_text(
        timezone.localtime().strftime("%-d %B %Y")
    )
    shot("04-compliance-report")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    name = download.value.suggested_filename
    assert name == f"fairdraw-compliance-{timezone.localdate().isoformat()}.csv"
    content = Path(download.value.path()).read_text()
    assert content.startswith("section,figure,value,number,period,meaning,as_at")
    assert "Free postal entries recorded" in content
