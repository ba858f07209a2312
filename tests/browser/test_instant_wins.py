"""An instant win in a real browser (headless Debian chromium): the competition page says how
many instant prizes are still to win without showing a number; a customer buys a lucky dip
(forced onto an instant-win number), pays on the test payment page and sees the win on the
confirmation page and under "Your tickets"; after the draw the draw page reveals and checks
the list. Screenshots, desktop and phone width, go to
test-artefacts/instant-wins/."""

import io
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from competitions.models import Competition
from tests.browser import screens
from tests.browser.screens import artefacts
from tests.factories import (
    PASSWORD,
    UserFactory,
    beacon_rebind,
    force_lucky_dip,
    instant_numbers,
    instant_win_competition,
    shows_number,
)
from winners.models import Winner

FOLDER = "instant-wins"
ARTEFACTS = artefacts(FOLDER)


def shot(page, name: str) -> None:
    screens.shot(page, FOLDER, name)


@pytest.mark.django_db(transaction=True)
def test_a_customer_wins_instantly_and_sees_it(browser_page, live_server, monkeypatch):
    from playwright.sync_api import expect

    page = browser_page
    competition = instant_win_competition(
        title="PlayStation 5 Pro Bundle",
        slug="playstation-5-pro-bundle",
        max_tickets=250_000,
        max_tickets_per_user=50,
        instant=(("£25 PlayStation Store credit", "25.00", 10), ("£5 cash", "5.00", 30)),
    )
    numbers = instant_numbers(competition)
    won = competition.instant_wins.filter(prize__title="£25 PlayStation Store credit")[0].number
    # The live server runs in this process: its lucky dip lands on the instant-win number.
    force_lucky_dip(monkeypatch, won)
    customer = UserFactory(email="sam.cole@example.com", first_name="Sam", last_name="Cole")
    answer = competition.answers.get(is_correct=True)

    # The competition page: 40 instant prizes still to win, and none of their numbers.
    page.goto(f"{live_server.url}{competition.get_absolute_url()}")
    instant = page.locator("#instant-wins")
    expect(instant.get_by_role("heading", name="Instant wins")).to_be_visible()
    expect(instant).to_contain_text("10 still to win")
    expect(instant).to_contain_text("30 still to win")
    expect(instant).to_contain_text(competition.instant_wins_commitment)
    html = page.content()
    assert not [n for n in numbers if shows_number(n, html)]
    shot(page, "01-competition")

    # Log in, answer, one lucky dip, pay with the test debit card.
    page.goto(f"{live_server.url}/account/login/")
    page.get_by_label("E-mail address").fill(customer.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}{competition.get_absolute_url()}")
    page.get_by_label(answer.text, exact=True).check()
    page.get_by_label("Or type a number").fill("1")
    page.get_by_role("button", name="Add to basket").click()
    expect(page.get_by_role("heading", name="Your basket")).to_be_visible()
    page.get_by_role("link", name="Checkout").click()
    expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page.get_by_text("Test mode")).to_be_visible()
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()

    # The confirmation page says so at once.
    expect(page.get_by_role("heading", name="Your tickets")).to_be_visible()
    banner = page.locator("#instant-win")
    expect(banner.get_by_role("heading", name="Instant win!")).to_be_visible()
    expect(banner).to_contain_text(f"Ticket #{won}")
    expect(banner).to_contain_text("£25 PlayStation Store credit")
    shot(page, "02-success")

    winner = Winner.objects.get(competition=competition)
    assert (winner.user, winner.ticket.number) == (customer, won)

    # "Your tickets" highlights the winning ticket.
    page.goto(f"{live_server.url}/account/")
    expect(page.get_by_text(re.compile(rf"Instant win! Ticket #{won} won"))).to_be_visible()
    chip = page.get_by_role(
        "list", name=f"In the draw: ticket numbers for {competition.title}"
    ).get_by_text(f"#{won}")
    expect(chip).to_be_visible()
    expect(page.locator("#wins-title")).to_be_visible()
    shot(page, "03-your-tickets")

    # Back on the competition page: one won (its number may show now), 9 still to win.
    page.goto(f"{live_server.url}{competition.get_absolute_url()}")
    expect(page.locator("#instant-wins")).to_contain_text("9 still to win")
    expect(page.locator("#instant-wins")).to_contain_text(f"Ticket #{won}")
    shot(page, "04-competition-after")

    # After the close and the draw, the draw page reveals the list and salt, and checks them.
    # (Closed two minutes ago, so the beacon round fixed by that close is out already.)
    past = timezone.now() - timedelta(minutes=2)
    Competition.objects.filter(pk=competition.pk).update(ends_at=past, draw_at=past)
    beacon_rebind(competition)
    call_command("draw", competition.slug, stdout=io.StringIO())
    page.goto(f"{live_server.url}/competitions/{competition.slug}/draw/")
    revealed = page.locator("#instant-wins")
    expect(revealed).to_contain_text(competition.instant_wins_salt)
    for number in numbers:
        expect(revealed).to_contain_text(f"#{number}")
    expect(page.get_by_text("Instant-win list matches its commitment")).to_be_visible()
    expect(
        page.get_by_text("Instant-win numbers recomputed from the revealed seed")
    ).to_be_visible()
    expect(page.locator(".draw-checks-summary")).to_contain_text("checks pass")
    shot(page, "05-draw-page-revealed")
