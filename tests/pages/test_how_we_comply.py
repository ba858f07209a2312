"""The public "How we comply" page is written from the live operator settings."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from draws.models import Draw
from draws.services import draw_perform
from tests.factories import TicketFactory, active_competition, operator_settings

pytestmark = pytest.mark.django_db

URL = "/how-we-comply/"


def page(client) -> str:
    response = client.get(URL)
    assert response.status_code == 200
    return response.content.decode()


def test_it_is_linked_from_every_page_footer(client):
    assert reverse("how_we_comply") == URL
    assert f'href="{URL}"' in client.get("/").content.decode()


def test_it_states_each_rule_with_todays_values(client, settings):
    settings.FAIRDRAW_POSTAL_ENTRY_ADDRESS = "Fairdraw Free Entry, PO Box 99, York YO1 1AA"
    operator_settings(
        monthly_spend_cap=Decimal("1000.00"),
        limit_cooling_off_hours=24,
        credit_card_monthly_cap=Decimal("250.00"),
        require_age_verification=False,
        min_open_clear_days=3,
        harm_entries_per_day=100,
        complaint_response_days=5,
        complaint_resolution_days=28,
    )
    html = page(client)
    for expected in (
        "You must be 18 or over",
        "Photo ID checked (passport or driving licence)",
        "We may ask you to prove your age at any time",
        "Nobody can spend more than <strong>£1,000.00</strong>",
        "only after <strong>24 hours</strong>",
        "by credit card up to <strong>£250.00</strong> a month",
        "We never accept credit cards for instant-win competitions",
        "Take a break</strong> for 1 to 42 days",
        "at least 6 months",
        "Close your account</strong> for good",
        "PO Box 99, York YO1 1AA",
        "exactly the same chance of winning",
        "SHA-256",
        "we reveal the seed",
        "at least <strong>3 clear days</strong>",
        "buys 100 or more tickets in one day",
        "We reply within <strong>5 days</strong>",
        "within <strong>28 days</strong>",
        "GamCare",
    ):
        assert expected in html, expected


def test_changing_a_setting_changes_the_page(client):
    operator_settings(
        monthly_spend_cap=Decimal("1000.00"),
        limit_cooling_off_hours=24,
        require_age_verification=False,
        complaint_response_days=5,
    )
    before = page(client)
    assert "We verify your age before your first purchase" not in before

    operator_settings(
        monthly_spend_cap=Decimal("300.00"),
        limit_cooling_off_hours=72,
        require_age_verification=True,
        complaint_response_days=3,
        credit_card_monthly_cap=Decimal("0"),
        min_open_clear_days=0,
    )
    after = page(client)
    assert "Nobody can spend more than <strong>£300.00</strong>" in after
    assert "£1,000.00" not in after
    assert "only after <strong>72 hours</strong>" in after
    assert "We verify your age before your first purchase" in after
    assert "We reply within <strong>3 days</strong>" in after
    assert "we don’t take credit cards" in after
    assert "clear day" not in after  # no minimum open time: no promise of one

    operator_settings(monthly_spend_cap=None)
    assert "We don’t set an overall monthly cap" in page(client)


def test_complaints_link_to_the_form_and_give_an_address(client):
    html = page(client)
    assert f'href="{reverse("complaints:new")}"' in html
    assert 'href="mailto:hello@fairdraw.example"' in html


def test_it_links_to_the_latest_draw_to_verify(client):
    competition = active_competition(title="Win a Rolex", slug="win-a-rolex")
    TicketFactory(competition=competition, number=1)
    draw_perform(
        competition=competition,
        mode=Draw.Mode.ADMIN,
        now=competition.ends_at + timedelta(minutes=1),
    )
    html = page(client)
    assert 'href="/competitions/win-a-rolex/draw/"' in html
    assert "Check the latest draw: Win a Rolex" in html
