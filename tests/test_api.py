"""The JSON API of docs/architecture.md §5: its shapes, its caching, and that a customer only
ever sees their own tickets."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from competitions.lifecycle import Status
from competitions.models import Competition, CompetitionImage
from tests.factories import CompetitionFactory, TicketFactory, UserFactory, active_competition
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
COMPETITION_KEYS = {
    "id", "slug", "title", "prizeDescription", "prizeValue", "cashAlternative", "ticketPrice",
    "maxTickets", "soldTickets", "ticketsLeft", "maxTicketsPerUser", "startDate", "endDate",
    "drawDate", "status", "isActive", "isFeatured", "closingSoon", "images", "question", "answers",
    "seedCommitment", "beaconRound", "instantWinsCommitment", "url", "bundles",
}  # fmt: skip


def on_sale(**kw) -> Competition:
    return active_competition(**kw)


def ended(**kw) -> Competition:
    now = timezone.now()
    return active_competition(
        now=now - timedelta(days=2),
        starts_at=now - timedelta(days=3),
        ends_at=now - timedelta(hours=1),
        **kw,
    )


class TestCompetitionList:
    def test_shape_of_a_competition(self, client):
        competition = on_sale(
            title="Win a Range Rover",
            prize_value=Decimal("118500"),
            cash_alternative=Decimal("100000"),
            ticket_price=Decimal("4.99"),
            is_featured=True,
        )
        CompetitionImage.objects.create(
            competition=competition,
            image=ContentFile(b"not really a jpeg", name="front.jpg"),
            alt_text="The car from the front",
        )
        Competition.objects.filter(pk=competition.pk).update(tickets_sold=30)

        response = client.get("/api/competitions", {"status": "active"})

        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        body = response.json()
        assert body["count"] == 1
        (data,) = body["results"]
        assert set(data) == COMPETITION_KEYS
        assert data["id"] == competition.pk
        assert data["prizeValue"] == "118500.00"
        assert data["cashAlternative"] == "100000.00"
        assert data["ticketPrice"] == "4.99"
        assert (data["maxTickets"], data["soldTickets"], data["ticketsLeft"]) == (100, 30, 70)
        assert data["maxTicketsPerUser"] == 20
        assert all(ISO_UTC.match(data[k]) for k in ("startDate", "endDate", "drawDate"))
        assert data["endDate"] == competition.ends_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert data["status"] == "active" and data["isActive"] is True
        assert data["isFeatured"] is True and data["closingSoon"] is False
        assert data["images"] == [
            {
                "url": f"http://testserver{competition.images.get().image.url}",
                "alt": "The car from the front",
            }
        ]
        assert data["question"] == competition.question
        assert [a["text"] for a in data["answers"]] == ["Edinburgh", "Glasgow", "Aberdeen"]
        assert data["seedCommitment"] == competition.seed_commitment
        assert data["url"] == f"http://testserver{competition.get_absolute_url()}"

    def test_never_reveals_the_seed_or_the_correct_answer(self, client):
        competition = on_sale()

        text = client.get("/api/competitions").content.decode()

        assert competition.draw_seed not in text
        assert "correct" not in text.lower()
        answer = client.get("/api/competitions").json()["results"][0]["answers"][0]
        assert set(answer) == {"id", "text"}

    @pytest.mark.parametrize("status", ["active", "ended", "drawn"])
    def test_filters_by_live_status_and_never_lists_drafts(self, client, status):
        active, closed = on_sale(title="On sale"), ended(title="Closed")
        drawn = ended(title="Drawn")
        Competition.objects.filter(pk=drawn.pk).update(status=Status.DRAWN)
        CompetitionFactory(title="Draft")

        titles = {
            c["title"]
            for c in client.get("/api/competitions", {"status": status}).json()["results"]
        }

        assert (
            titles
            == {"active": {active.title}, "ended": {closed.title}, "drawn": {"Drawn"}}[status]
        )

    def test_defaults_to_active_and_accepts_a_trailing_slash(self, client):
        on_sale(title="On sale")
        ended(title="Closed")

        for url in ("/api/competitions", "/api/competitions/"):
            body = client.get(url).json()
            assert [c["title"] for c in body["results"]] == ["On sale"], url

    def test_unknown_status_is_a_400(self, client):
        response = client.get("/api/competitions", {"status": "draft"})

        assert response.status_code == 400
        assert "status must be one of" in response.json()["error"]

    def test_is_cacheable_by_anyone_briefly(self, client):
        response = client.get("/api/competitions")

        assert response["Cache-Control"] == "public, max-age=30"
        assert "Cookie" not in response.get("Vary", "")

    def test_read_only(self, client):
        assert client.post("/api/competitions").status_code == 405


class TestCompetitionDetail:
    def test_one_competition_by_id(self, client):
        competition = on_sale(title="Win a Porsche")

        for url in (f"/api/competitions/{competition.pk}", f"/api/competitions/{competition.pk}/"):
            response = client.get(url)
            assert response.status_code == 200, url
            assert response.json()["title"] == "Win a Porsche"
            assert set(response.json()) == COMPETITION_KEYS | {"instantWins"}
            assert response["Cache-Control"] == "public, max-age=30"

    def test_status_is_derived_from_the_clock(self, client):
        competition = ended()

        assert client.get(f"/api/competitions/{competition.pk}").json()["status"] == "ended"

    @pytest.mark.parametrize("make", ["draft", "missing", "huge"])
    def test_drafts_and_unknown_ids_are_json_404s(self, client, make):
        pk = {
            "draft": lambda: CompetitionFactory().pk,
            "missing": lambda: 987654,
            "huge": lambda: 10**30,
        }[make]()

        response = client.get(f"/api/competitions/{pk}")

        assert response.status_code == 404
        assert response.json() == {"error": "No such competition."}


class TestUserTickets:
    URL = "/api/tickets/user"

    def test_logged_out_is_a_401_in_json(self, client):
        competition = on_sale()

        response = client.get(self.URL, {"competitionId": competition.pk})

        assert response.status_code == 401
        assert "error" in response.json()
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]

    def test_only_the_logged_in_customers_own_tickets(self, client):
        me, someone_else = UserFactory(), UserFactory()
        competition, other_competition = on_sale(), on_sale()
        TicketFactory(competition=competition, user=me, number=7)
        TicketFactory(competition=competition, user=me, number=3, status=Ticket.Status.INVALID)
        TicketFactory(competition=competition, user=someone_else, number=5)
        TicketFactory(competition=other_competition, user=me, number=9)
        client.force_login(me)

        response = client.get(self.URL, {"competitionId": competition.pk})

        assert response.status_code == 200
        body = response.json()
        assert body["competitionId"] == competition.pk
        assert [(t["number"], t["status"]) for t in body["tickets"]] == [
            (3, "invalid"),
            (7, "active"),
        ]
        ticket = body["tickets"][0]
        assert set(ticket) == {"number", "status", "purchasedAt", "source"}
        assert ISO_UTC.match(ticket["purchasedAt"]) and ticket["source"] == "postal"
        assert response["Cache-Control"] == "private, no-store"

    def test_another_customer_sees_only_theirs(self, client):
        me, someone_else = UserFactory(), UserFactory()
        competition = on_sale()
        TicketFactory(competition=competition, user=me, number=7)
        client.force_login(someone_else)

        body = client.get(self.URL, {"competitionId": competition.pk}).json()

        assert body["tickets"] == []

    @pytest.mark.parametrize("value", [None, "", "abc", "-1", "1.5", "١٢", str(10**30)])
    def test_a_missing_or_malformed_competition_id_is_a_400(self, client, value):
        client.force_login(UserFactory())

        params = {} if value is None else {"competitionId": value}
        response = client.get(self.URL, params)

        assert response.status_code == 400
        assert "competitionId" in response.json()["error"]

    def test_unknown_or_draft_competition_is_a_404(self, client):
        client.force_login(UserFactory())

        for pk in (CompetitionFactory().pk, 987654):
            response = client.get(self.URL, {"competitionId": pk})
            assert response.status_code == 404
            assert response.json() == {"error": "No such competition."}

    def test_accepts_a_trailing_slash(self, client):
        client.force_login(UserFactory())
        competition = on_sale()

        assert client.get(self.URL + "/", {"competitionId": competition.pk}).status_code == 200


def test_the_api_lists_a_competitions_bundles(client):
    from competitions.models import Bundle

    competition = on_sale(ticket_price=Decimal("0.99"))
    Bundle.objects.create(competition=competition, quantity=5, price=Decimal("4.00"))

    data = client.get(f"/api/competitions/{competition.pk}").json()

    assert data["bundles"] == [{"quantity": 5, "price": "4.00"}]
