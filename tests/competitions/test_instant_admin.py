"""Staff attach instant-win prizes in the admin as a title, a value and a count; activation
picks the numbers, which no admin page shows (issue #17)."""

import pytest

from competitions.lifecycle import Status
from competitions.models import Competition, Prize
from draws.models import DrawLogEntry
from tests.factories import draft_ready_to_activate, instant_numbers, shows_number
from tests.test_admin import form_data, messages_of, url

pytestmark = pytest.mark.django_db


def test_staff_add_instant_prizes_by_count_and_never_see_their_numbers(admin_client):
    competition = draft_ready_to_activate(max_tickets=2_000_000, max_tickets_per_user=100)
    change_url = url("competitions.competition", "change", competition.pk)
    page = admin_client.get(change_url)
    assert 'name="prizes-0-quantity"' in page.content.decode()
    assert "ticket_number" not in page.content.decode()
    data = form_data(page, "competition_form")
    data.update(
        {
            "prizes-1-kind": ["instant"],
            "prizes-1-position": [""],
            "prizes-1-quantity": ["20"],
            "prizes-1-title": ["£10 cash"],
            "prizes-1-value": ["10.00"],
        }
    )
    data["prizes-TOTAL_FORMS"] = ["2"]

    response = admin_client.post(change_url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    prize = competition.prizes.get(kind=Prize.Kind.INSTANT)
    assert (prize.title, prize.quantity) == ("£10 cash", 20)

    admin_client.post(
        url("competitions.competition", "changelist"),
        {"action": "activate", "_selected_action": [competition.pk]},
    )
    competition = Competition.objects.get(pk=competition.pk)
    assert competition.status in (Status.ACTIVE, Status.UPCOMING)
    numbers = instant_numbers(competition)
    assert len(numbers) == 20
    # Looked for in the pages: those of five or more digits (a shorter number can appear in a
    # page for other reasons; each of the 20 is under 10,000 with odds of 1 in 200).
    numbers = [n for n in numbers if n > 9_999]
    assert len(numbers) >= 15

    pages = [
        admin_client.get(change_url),
        admin_client.get(url("competitions.competition", "changelist")),
        admin_client.get(url("competitions.competition", "history", competition.pk)),
        admin_client.get(url("draws.drawlogentry", "changelist")),
        *(
            admin_client.get(url("draws.drawlogentry", "change", pk))
            for pk in DrawLogEntry.objects.values_list("pk", flat=True)
        ),
        admin_client.get(url("core.auditentry", "changelist")),
    ]
    for response in pages:
        assert response.status_code == 200
        text = response.content.decode()
        assert not [n for n in numbers if shows_number(n, text)]
    assert competition.instant_wins_commitment in pages[0].content.decode()


def test_activating_with_too_much_in_instant_wins_says_why(admin_client):
    competition = draft_ready_to_activate()  # £1,000 draw prize
    Prize.objects.create(
        competition=competition, kind="instant", title="£600 cash", value=600, quantity=2
    )
    response = admin_client.post(
        url("competitions.competition", "changelist"),
        {"action": "activate", "_selected_action": [competition.pk]},
        follow=True,
    )
    [(level, text)] = messages_of(response)
    assert level == "error" and "majority of the prize value" in text
    assert Competition.objects.get(pk=competition.pk).status == Status.DRAFT


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("quantity", "6", "Instant wins were fixed at activation"),
        ("value", "500.00", "majority of the prize value"),
    ],
)
def test_after_activation_instant_prizes_are_not_recounted_or_made_the_majority(
    admin_client, field, value, error
):
    from tests.factories import instant_win_competition

    competition = instant_win_competition()  # £1,000 draw prize, 5 × £10 instant
    change_url = url("competitions.competition", "change", competition.pk)
    data = form_data(admin_client.get(change_url), "competition_form")
    index = next(
        key.split("-")[1]
        for key, values in data.items()
        if key.endswith("-kind") and key.startswith("prizes-") and values == ["instant"]
    )
    data[f"prizes-{index}-{field}"] = [value]

    response = admin_client.post(change_url, data)

    assert response.status_code == 200
    assert error in response.content.decode()
    prize = competition.prizes.get(kind=Prize.Kind.INSTANT)
    assert (prize.quantity, prize.value) == (5, 10)
