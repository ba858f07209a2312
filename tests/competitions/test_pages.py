"""The public competition pages: what a visitor sees, and what they must never see."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.template import loader
from django.utils import timezone

from competitions.lifecycle import Status
from competitions.models import Competition
from competitions.templatetags.fairdraw import money, percent, quantity_presets
from tests.factories import CompetitionFactory, TicketFactory, UserFactory, active_competition
from winners.models import Winner

pytestmark = pytest.mark.django_db


def on_sale(**kw) -> Competition:
    return active_competition(**kw)


def upcoming(**kw) -> Competition:
    now = timezone.now()
    return active_competition(
        starts_at=now + timedelta(days=1), ends_at=now + timedelta(days=8), **kw
    )


def ended(**kw) -> Competition:
    now = timezone.now()
    return active_competition(
        now=now - timedelta(days=2),
        starts_at=now - timedelta(days=3),
        ends_at=now - timedelta(hours=1),
        **kw,
    )


def drawn(**kw) -> Competition:
    competition = ended(**kw)
    Competition.objects.filter(pk=competition.pk).update(status=Status.DRAWN)
    competition.refresh_from_db()
    return competition


def html(response) -> str:
    return response.content.decode()


class TestHome:
    def test_lists_active_competitions_and_never_drafts(self, client):
        live = on_sale(title="Win a Tesla Model 3")
        CompetitionFactory(title="Secret draft Range Rover")

        response = client.get("/")

        assert response.status_code == 200
        page = html(response)
        assert live.title in page
        assert live.get_absolute_url() in page
        assert "Secret draft Range Rover" not in page

    def test_features_a_featured_competition_in_the_hero(self, client):
        on_sale(title="Win £50,000 tax-free", is_featured=True, cash_alternative=Decimal("45000"))

        page = html(client.get("/"))

        assert 'id="hero-title"' in page
        assert "Featured competition" in page
        assert "£45,000" in page

    def test_empty_shop_says_so_kindly(self, client):
        page = html(client.get("/"))

        assert "No competitions are on sale right now" in page
        assert "Our first champions are on their way" in page

    def test_shows_published_champions(self, client):
        competition = drawn(title="Win a PS5")
        ticket = TicketFactory(competition=competition, number=42)
        Winner.objects.create(
            competition=competition,
            prize=competition.prizes.get(),
            ticket=ticket,
            user=ticket.user,
            display_name="Sarah K.",
            location="Leeds",
            is_published=True,
            published_at=timezone.now(),
        )

        page = html(client.get("/"))

        assert "Sarah K." in page
        assert "#42" in page


class TestList:
    @pytest.fixture
    def one_of_each(self):
        return {
            "active": on_sale(title="Active Audi"),
            "upcoming": upcoming(title="Upcoming Uber Eats"),
            "ended": ended(title="Ended Espresso machine"),
            "drawn": drawn(title="Drawn Drone"),
        }

    @pytest.mark.parametrize("status", ["active", "upcoming", "ended", "drawn"])
    def test_tabs_filter_by_status(self, client, one_of_each, status):
        response = client.get("/competitions/", {"status": status})

        page = html(response)
        for other, competition in one_of_each.items():
            assert (competition.title in page) == (other == status), other
        assert f'href="?status={status}" aria-current="page"' in page

    def test_unknown_status_falls_back_to_active(self, client, one_of_each):
        page = html(client.get("/competitions/", {"status": "draft"}))

        assert "Active Audi" in page
        assert "Drawn Drone" not in page
        assert 'href="?status=active" aria-current="page"' in page

    def test_card_without_photo_shows_a_placeholder(self, client):
        on_sale(title="Photo-less prize")

        page = html(client.get("/competitions/"))

        assert "Photo coming soon" in page


class TestDetail:
    def test_shows_the_commitment_and_never_the_seed(self, client):
        competition = on_sale()
        assert competition.draw_seed and competition.seed_commitment

        page = html(client.get(competition.get_absolute_url()))

        assert "Draw commitment (SHA-256)" in page
        assert competition.seed_commitment in page
        assert competition.draw_seed not in page

    def test_drawn_competition_shows_winners_but_still_not_the_seed(self, client):
        competition = drawn()
        user = UserFactory(first_name="Priya", last_name="Patel")
        ticket = TicketFactory(competition=competition, user=user, number=1234)
        Winner.objects.create(
            competition=competition,
            prize=competition.prizes.get(),
            ticket=ticket,
            user=user,
            display_name="Priya P.",
            location="Leicester",
            is_published=True,
            published_at=timezone.now(),
        )

        page = html(client.get(competition.get_absolute_url()))

        assert "Priya P." in page
        assert "#1234" in page
        assert competition.draw_seed not in page

    def test_entry_form_posts_to_the_basket(self, client):
        competition = on_sale(max_tickets_per_user=20)

        page = html(client.get(competition.get_absolute_url()))

        assert 'method="post"' in page
        assert f'action="/cart/add/{competition.slug}/"' in page
        assert "Add to basket" in page
        for answer in competition.answers.all():
            assert f'<label for="answer-{answer.pk}">{answer.text}</label>' in page
        assert 'id="qty-10"' in page
        assert 'id="qty-25"' not in page  # beyond the 20-per-customer limit
        assert "Free postal entry" in page
        assert f"1 in {competition.max_tickets}" in page

    @pytest.mark.parametrize(
        ("make", "says"),
        [
            (upcoming, "Tickets go on sale"),
            (ended, "Entries are closed"),
            (drawn, "This competition has been drawn"),
        ],
    )
    def test_no_entry_form_unless_on_sale(self, client, make, says):
        competition = make()

        page = html(client.get(competition.get_absolute_url()))

        assert says in page
        assert 'name="answer"' not in page
        assert competition.seed_commitment in page

    def test_countdown_carries_the_end_time_and_shows_it_without_js(self, client):
        competition = on_sale()

        page = html(client.get(competition.get_absolute_url()))

        ends_local = timezone.localtime(competition.ends_at)
        assert f'data-ends-at="{ends_local.isoformat()}"' in page
        assert f"{ends_local:%Y}" in page and ends_local.strftime("%B") in page

    def test_draft_is_not_found(self, client):
        draft = CompetitionFactory()

        response = client.get(draft.get_absolute_url())

        assert response.status_code == 404


class TestErrorPages:
    def test_404_uses_the_friendly_template(self, client):
        response = client.get("/no-such-page/")

        assert response.status_code == 404
        assert "Sorry, we can’t find that page" in html(response)
        assert 'lang="en-GB"' in html(response)

    def test_500_renders_without_request_or_context_processors(self):
        page = loader.get_template("500.html").render({})

        assert "Something went wrong" in page
        assert "/static/css/site.css" in page


class TestFormatting:
    @pytest.mark.parametrize(
        ("value", "style", "expected"),
        [
            (Decimal("1234"), "", "£1,234.00"),
            (Decimal("0.99"), "", "£0.99"),
            (Decimal("50000.00"), "short", "£50,000"),
            (Decimal("2.50"), "short", "£2.50"),
            (Decimal("-5"), "", "-£5.00"),
            (None, "", ""),
        ],
    )
    def test_money(self, value, style, expected):
        assert money(value, style) == expected

    @pytest.mark.parametrize(
        ("part", "whole", "expected"), [(0, 100, "0%"), (1, 100_000, "<1%"), (37, 40, "92%")]
    )
    def test_percent_rounds_down_but_never_hides_a_sale(self, part, whole, expected):
        assert percent(part, whole) == expected

    def test_quantity_presets_respect_limits_and_price(self):
        competition = Competition(
            ticket_price=Decimal("0.99"), max_tickets=100, max_tickets_per_user=30, tickets_sold=90
        )

        presets = quantity_presets(competition)

        assert [p["quantity"] for p in presets] == [1, 5, 10]
        assert presets[-1]["total"] == Decimal("9.90")
        assert [p["quantity"] for p in presets if p["is_default"]] == [10]
