"""A visitor checks a drawn competition in a real browser (headless Debian chromium): the draw
page shows the beacon round and its proof, labelled "demo beacon", the live checks, and the
history of a redraw after a winner was disqualified. Screenshots, desktop and phone width, go
to test-artefacts/verification/."""

from datetime import timedelta

import pytest
from django.utils import timezone

from draws.beacon import round_time
from draws.models import Draw, Redraw
from draws.services import draw_perform, redraw_perform
from tests.browser.screens import DESKTOP, PHONE, artefacts
from tests.factories import TicketFactory, UserFactory, active_competition
from winners.models import Winner
from winners.services import winner_approve, winner_disqualify, winner_publish

FOLDER = "verification"
ARTEFACTS = artefacts(FOLDER)


def _drawn_and_redrawn():
    """Opened a week ago, closed two hours ago, drawn; its 1st prize winner, published, then
    disqualified (no reply) and the prize redrawn."""
    now = timezone.now()
    competition = active_competition(
        now=now - timedelta(days=7),
        starts_at=now - timedelta(days=7),
        ends_at=now - timedelta(hours=2),
        draw_at=now - timedelta(hours=2),
        title="Win a Tesla Model 3",
        prizes=2,
        max_tickets=500,
    )
    for number in range(1, 41):
        TicketFactory(competition=competition, number=number * 7)
    draw = draw_perform(
        competition=competition, mode=Draw.Mode.AUTOMATIC, now=now - timedelta(hours=1, minutes=55)
    )
    first = draw.winners.get(prize__position=1)
    winner_publish(winner=winner_approve(winner=first))
    winner_disqualify(
        winner=Winner.objects.get(pk=first.pk),
        by=UserFactory(is_staff=True),
        reason="no_reply",
        detail="No reply to three e-mails and two calls within 14 days.",
        now=now - timedelta(hours=1),
    )
    redraw = Redraw.objects.get()
    redraw_perform(redraw=redraw, now=round_time(redraw.beacon_round))
    return competition, Redraw.objects.get()


@pytest.mark.django_db(transaction=True)
def test_draw_page_shows_the_beacon_and_the_redraw_history(browser_page, live_server):
    from playwright.sync_api import expect

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    competition, redraw = _drawn_and_redrawn()
    page = browser_page

    def shot(name):
        page.set_viewport_size(DESKTOP)
        page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)
        page.set_viewport_size(PHONE)
        page.screenshot(path=str(ARTEFACTS / f"{name}-phone.png"), full_page=True)
        page.set_viewport_size(DESKTOP)

    page.goto(f"{live_server.url}/competitions/{competition.slug}/draw/")
    expect(page.get_by_role("heading", name="Win a Tesla Model 3")).to_be_visible()
    randomness = page.locator(".draw-beacon")
    expect(randomness).to_contain_text("demo beacon")
    expect(randomness).to_contain_text(f"Round {competition.beacon_round}")
    expect(page.get_by_role("status")).to_contain_text("checks pass")

    history = page.get_by_role("region", name="Redraws")
    expect(history).to_contain_text("Redraw 1")
    expect(history).to_contain_text("No reply by the operator's deadline")
    expect(history).to_contain_text(f"#{redraw.disqualified_ticket.number}")
    expect(history).to_contain_text(f"#{redraw.new_ticket.number}")
    expect(history).to_contain_text(f"Round {redraw.beacon_round}")
    expect(page.get_by_text("disqualified", exact=True).first).to_be_visible()
    shot("01-draw-page")

    page.get_by_role("region", name="Redraws").scroll_into_view_if_needed()
    page.set_viewport_size(PHONE)
    history.screenshot(path=str(ARTEFACTS / "02-redraws-phone.png"))
    page.set_viewport_size(DESKTOP)


@pytest.mark.django_db(transaction=True)
def test_competition_page_announces_the_round_before_close(browser_page, live_server):
    from playwright.sync_api import expect

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    competition = active_competition(title="Win a Vespa GTS")
    page = browser_page
    page.goto(f"{live_server.url}{competition.get_absolute_url()}")
    announcement = page.locator(".commitment-beacon")
    expect(announcement).to_contain_text("demo beacon")
    expect(announcement).to_contain_text(str(competition.beacon_round))
    announcement.scroll_into_view_if_needed()
    page.set_viewport_size(PHONE)
    page.locator(".commitment").locator("..").screenshot(
        path=str(ARTEFACTS / "03-competition-page-beacon-phone.png")
    )
    page.set_viewport_size(DESKTOP)
    page.goto(f"{live_server.url}/competitions/{competition.slug}/draw/")
    expect(page.locator(".draw-beacon")).to_contain_text(f"Round {competition.beacon_round}")
    page.screenshot(path=str(ARTEFACTS / "04-draw-page-before-close.png"), full_page=True)
