"""Staff and instant wins in a real browser (headless Debian chromium): refunding a ticket
whose instant prize was already delivered, the confirmation names the prize, the winner and
the day, per number; cancelling the competition says the same; and an instant winner staff
reject shows as void on the competition page. Screenshots, desktop and phone width, go to
test-artefacts/instant-win-staff/."""

from datetime import UTC, datetime

import pytest

from tests.browser import screens
from tests.browser.staff import staff_log_in
from tests.factories import (
    UserFactory,
    correct_answer,
    instant_win_competition,
)
from tickets.services import order_record_paid
from winners.models import Winner
from winners.services import winner_approve, winner_mark_delivered, winner_reject

FOLDER = "instant-win-staff"


@pytest.mark.django_db(transaction=True)
def test_staff_see_a_delivered_prize_before_refunding_and_the_public_sees_a_void_win(
    browser_page, live_server
):
    from playwright.sync_api import expect

    page = browser_page
    competition = instant_win_competition(
        title="Win a Porsche 911",
        slug="win-a-porsche-911",
        instant=(("Apple Watch", "99.00", 3), ("£10 cash", "10.00", 5)),
    )
    staff = UserFactory(email="ops@fairdraw.example", is_staff=True, is_superuser=True)
    watch, cash = (
        competition.instant_wins.filter(prize__title=title).first().number
        for title in ("Apple Watch", "£10 cash")
    )
    jane = UserFactory(email="jane.smith@example.com", first_name="Jane", last_name="Smith")
    order = order_record_paid(
        user=jane, competition=competition, answer=correct_answer(competition), numbers=[watch]
    )
    jane_win = Winner.objects.get(ticket__number=watch, competition=competition)
    winner_approve(winner=jane_win, by=staff)
    winner_mark_delivered(winner=jane_win, by=staff, now=datetime(2026, 11, 3, 12, tzinfo=UTC))
    sam = UserFactory(email="sam.cole@example.com", first_name="Sam", last_name="Cole")
    order_record_paid(
        user=sam, competition=competition, answer=correct_answer(competition), numbers=[cash]
    )
    sam_win = Winner.objects.get(ticket__number=cash, competition=competition)
    winner_reject(winner=sam_win, by=staff, reason="Under 18 (passport check)")

    staff_log_in(page, live_server.url, staff)

    # Refund Jane's ticket: the confirmation names the delivered prize.
    page.goto(f"{live_server.url}/admin/tickets/ticket/?order__id__exact={order.pk}")
    page.locator("#action-toggle").check()
    page.locator("select[name=action]").select_option("refund")
    page.get_by_role("button", name="Go", exact=True).first.click()
    expect(page.get_by_role("heading", name="Refund these tickets?")).to_be_visible()
    expect(
        page.get_by_text(
            f"Ticket #{watch}'s instant prize (Apple Watch) in Win a Porsche 911 was already "
            "delivered to Jane S. on 3 Nov 2026: refunding voids the win, recover the prize "
            "separately."
        )
    ).to_be_visible()
    screens.shot(page, FOLDER, "01-refund-confirmation")

    # Cancel and refund the competition: the same line, per number.
    page.goto(f"{live_server.url}/admin/competitions/competition/")
    page.get_by_role("row").filter(has_text="Win a Porsche 911").get_by_role("checkbox").check()
    page.locator("select[name=action]").select_option("cancel_and_refund")
    page.get_by_role("button", name="Go", exact=True).first.click()
    expect(page.get_by_text("was already delivered to Jane S. on 3 Nov 2026")).to_be_visible()
    screens.shot(page, FOLDER, "02-cancel-confirmation")

    # The public list: Sam's rejected win is void, without his name or the staff reason.
    page.goto(f"{live_server.url}{competition.get_absolute_url()}")
    instant = page.locator("#instant-wins")
    expect(instant).to_contain_text(
        f"Ticket #{cash} · void: the winner was not eligible, the prize is not awarded again"
    )
    expect(instant).not_to_contain_text("Sam C.")
    expect(instant).not_to_contain_text("Under 18")
    instant.scroll_into_view_if_needed()
    screens.shot(page, FOLDER, "03-competition-instant-wins")
    for viewport, name in ((screens.DESKTOP, "desktop"), (screens.PHONE, "phone")):
        page.set_viewport_size(viewport)
        instant.screenshot(path=str(screens.artefacts(FOLDER) / f"04-instant-wins-list-{name}.png"))
