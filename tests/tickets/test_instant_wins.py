"""Instant wins (issue #17): numbers fixed from the seed at activation, secret until won, each
awarded exactly once to the paid or postal ticket that holds it, and the customer told."""

import json
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from competitions.exceptions import ActivationRefused
from competitions.lifecycle import Status
from competitions.models import InstantWin, Prize
from competitions.services import competition_activate
from draws import fairness
from draws.models import DrawLogEntry
from notifications.models import Notification
from tests.factories import (
    PrizeFactory,
    UserFactory,
    correct_answer,
    draft_ready_to_activate,
    force_lucky_dip,
    instant_numbers,
    instant_win_competition,
    shows_number,
    wrong_answer,
)
from tickets.models import Order, Ticket
from tickets.services import order_fulfil, order_record_paid, postal_entry_add
from winners.models import Winner

from .conftest import paid_event, post_event
from .helpers import reserve

pytestmark = pytest.mark.django_db


def buy(competition, *, numbers=(), quantity=None, user=None, correct=True):
    answer = correct_answer(competition) if correct else wrong_answer(competition)
    return order_record_paid(
        user=user or UserFactory(),
        competition=competition,
        answer=answer,
        quantity=quantity,
        numbers=numbers,
    )


# ---------------------------------------------------------------- activation


def test_activation_fixes_the_numbers_from_the_seed_and_publishes_a_commitment():
    competition = instant_win_competition(
        instant=(("£10 cash", "10.00", 20), ("Free tickets", "5.00", 3)), max_tickets=500
    )
    rows = list(InstantWin.objects.filter(competition=competition).order_by("id"))
    expected = fairness.instant_win_numbers(seed=competition.draw_seed, max_tickets=500, count=23)
    assert [r.number for r in rows] == expected  # in derivation order, prize by prize
    assert len(set(expected)) == 23 and all(1 <= n <= 500 for n in expected)
    cash, free = competition.prizes.filter(kind=Prize.Kind.INSTANT).order_by("id")
    assert [r.prize_id for r in rows] == [cash.pk] * 20 + [free.pk] * 3
    assert competition.instant_wins_commitment == fairness.instant_wins_commitment(
        expected, competition.instant_wins_salt
    )
    assert len(competition.instant_wins_salt) == 64
    assert DrawLogEntry.objects.filter(
        competition=competition, action="instant_wins_committed"
    ).exists()
    assert all(r.won_at is None for r in rows)


def test_activation_is_refused_when_instant_wins_are_most_of_the_prize_value():
    competition = draft_ready_to_activate()  # a £1,000 draw prize
    PrizeFactory(
        competition=competition,
        kind="instant",
        position=None,
        title="£10 cash",
        value=Decimal("10.00"),
        quantity=101,
    )
    with pytest.raises(ActivationRefused) as refused:
        competition_activate(competition=competition)
    assert "majority of the prize value" in str(refused.value)
    assert "£1,010.00 of £2,010.00" in str(refused.value)
    competition.refresh_from_db()
    assert competition.status == Status.DRAFT
    assert not competition.seed_commitment and not competition.instant_wins_commitment
    assert not InstantWin.objects.filter(competition=competition).exists()


def test_exactly_half_the_value_in_instant_wins_is_allowed():
    competition = instant_win_competition(instant=(("£10 cash", "10.00", 100),))
    assert competition.status == Status.ACTIVE
    assert competition.instant_wins.count() == 100


def test_no_more_instant_wins_than_tickets():
    competition = draft_ready_to_activate(max_tickets=3, max_tickets_per_user=3)
    PrizeFactory(competition=competition, kind="instant", position=None, value=1, quantity=4)
    with pytest.raises(ActivationRefused, match="4 instant wins but only 3 tickets"):
        competition_activate(competition=competition)


def test_instant_prizes_cannot_be_recounted_after_activation(admin_user):
    from competitions.exceptions import CompetitionLocked
    from competitions.services import competition_edit_parts

    competition = instant_win_competition()
    prize = competition.prizes.get(kind=Prize.Kind.INSTANT)

    def recount():
        Prize.objects.filter(pk=prize.pk).update(quantity=6)
        return {"changed": [str(prize)], "added": [], "deleted": []}

    with pytest.raises(CompetitionLocked, match="fixed at activation"):
        competition_edit_parts(competition=competition, by=admin_user, part="prize", save=recount)
    prize.refresh_from_db()
    assert prize.quantity == 5


def test_a_prize_value_change_cannot_make_instant_wins_the_majority(admin_user):
    from competitions.exceptions import CompetitionError
    from competitions.services import competition_edit_parts

    competition = instant_win_competition()  # £1,000 draw prize, 5 × £10 instant
    prize = competition.prizes.get(kind=Prize.Kind.INSTANT)

    def revalue():
        Prize.objects.filter(pk=prize.pk).update(value=Decimal("500.00"))
        return {"changed": [str(prize)], "added": [], "deleted": []}

    with pytest.raises(CompetitionError, match="majority of the prize value"):
        competition_edit_parts(competition=competition, by=admin_user, part="prize", save=revalue)
    prize.refresh_from_db()
    assert prize.value == Decimal("10.00")


def test_deactivating_discards_the_numbers_and_activating_again_chooses_new_ones(admin_user):
    from competitions.services import competition_deactivate

    competition = instant_win_competition()
    competition = competition_deactivate(competition=competition, by=admin_user)
    assert not competition.instant_wins.exists() and not competition.instant_wins_commitment
    competition = competition_activate(competition=competition)
    assert competition.instant_wins.count() == 5
    assert sorted(instant_numbers(competition)) == sorted(
        fairness.instant_win_numbers(
            seed=competition.draw_seed, max_tickets=competition.max_tickets, count=5
        )
    )


# ---------------------------------------------------------------- awarding


def test_a_lucky_dip_forced_onto_an_instant_win_number_wins_it_once(
    client, fake_stripe, monkeypatch
):
    competition = instant_win_competition()
    number = instant_numbers(competition)[0]
    force_lucky_dip(monkeypatch, number)
    customer = UserFactory(phone="+447700900123")
    order = reserve(customer, competition, quantity=1)
    event = paid_event(fake_stripe, order)

    assert post_event(client, event).status_code == 200
    assert post_event(client, event).status_code == 200  # Stripe delivers again

    winner = Winner.objects.get(competition=competition)
    assert winner.ticket.number == number and winner.user == customer
    assert winner.is_instant and winner.draw is None
    assert winner.verification_status == Winner.Verification.PENDING
    assert winner.prize.title == "£10 cash"
    instant = InstantWin.objects.get(competition=competition, number=number)
    assert instant.won_at is not None and instant.winner == winner
    # Told at once, by e-mail and SMS, through the outbox.
    sent = Notification.objects.filter(user=customer, kind=Notification.Kind.WINNER_ANNOUNCED)
    assert {n.channel for n in sent} >= {"email", "sms"}
    email = sent.get(channel="email")
    assert "Instant win" in email.payload["subject"]
    assert email.payload["template"] == "instant_win"
    assert f"#{number}" in sent.get(channel="sms").payload["body"]


def test_a_chosen_instant_win_number_wins_and_other_tickets_do_not():
    competition = instant_win_competition()
    number = instant_numbers(competition)[2]
    others = [n for n in range(1, 50) if n not in instant_numbers(competition)][:3]
    order = buy(competition, numbers=[number, *others])
    assert order.status == Order.Status.PAID
    winner = Winner.objects.get(competition=competition)
    assert winner.ticket.number == number
    assert winner.instant_win.number == number


def test_a_postal_entry_holding_an_instant_win_number_wins_it(monkeypatch, admin_user):
    competition = instant_win_competition()
    number = instant_numbers(competition)[1]
    force_lucky_dip(monkeypatch, number)
    customer = UserFactory()
    postal_entry_add(user=customer, competition=competition, by=admin_user)
    winner = Winner.objects.get(competition=competition)
    assert (winner.user, winner.ticket.number) == (customer, number)
    assert winner.ticket.source == Ticket.Source.POSTAL


def test_a_wrong_answer_is_not_entered_so_wins_nothing():
    competition = instant_win_competition()
    number = instant_numbers(competition)[0]
    buy(competition, numbers=[number], correct=False)
    assert not Winner.objects.filter(competition=competition).exists()
    assert InstantWin.objects.get(competition=competition, number=number).won_at is None


def test_paying_the_same_order_again_awards_nothing_new():
    competition = instant_win_competition()
    number = instant_numbers(competition)[0]
    order = reserve(UserFactory(), competition, numbers=[number])
    first = order_fulfil(order_id=order.pk, payment_intent_id="pi_1")
    again = order_fulfil(order_id=order.pk, payment_intent_id="pi_1")
    assert (first.outcome, again.outcome) == ("paid", "already paid")
    assert Winner.objects.filter(competition=competition).count() == 1
    assert (
        Notification.objects.filter(
            kind=Notification.Kind.WINNER_ANNOUNCED, channel="email"
        ).count()
        == 1
    )


def test_a_lapsed_reservation_paid_late_still_wins(monkeypatch):
    from tickets.services import order_release

    competition = instant_win_competition()
    number = instant_numbers(competition)[0]
    now = timezone.now()
    order = reserve(UserFactory(), competition, numbers=[number], now=now)
    order_release(order_id=order.pk, reason=Order.Status.EXPIRED, only_if_lapsed=False)
    result = order_fulfil(order_id=order.pk, now=now + timedelta(minutes=20))
    assert result.outcome == "paid after the reservation lapsed"
    assert Winner.objects.get(competition=competition).ticket.number == number


def test_an_instant_winner_can_still_win_the_draw():
    from draws.models import Draw
    from draws.services import draw_perform

    competition = instant_win_competition(max_tickets=5, max_tickets_per_user=5)
    number = instant_numbers(competition)[0]
    buy(competition, numbers=[number])  # the only entry, so it also wins the draw
    later = competition.ends_at + timedelta(minutes=1)
    draw_perform(competition=competition, mode=Draw.Mode.ADMIN, now=later)
    wins = Winner.objects.filter(competition=competition)
    assert {w.is_instant for w in wins} == {True, False}
    assert {w.ticket.number for w in wins} == {number}


# ---------------------------------------------------------------- what the customer sees


def test_the_success_page_and_your_tickets_show_the_win(client, monkeypatch):
    competition = instant_win_competition()
    number = instant_numbers(competition)[0]
    customer = UserFactory()
    order = buy(competition, numbers=[number], user=customer)
    client.force_login(customer)

    page = client.get(reverse("tickets:success", args=[order.reference])).content.decode()
    assert "Instant win!" in page
    assert f"Ticket <strong>#{number}</strong>" in page and "£10 cash" in page
    assert "ticket-instant-win" in page

    dashboard = client.get("/account/").content.decode()
    assert (
        f"<span>Instant win! Ticket <strong>#{number}</strong> won <strong>£10 cash</strong>.</span>"
        in (dashboard)
    )
    assert re.search(rf'ticket-chip-won">#{number} <span class="ticket-chip-note">', dashboard)


def test_the_competition_page_lists_instant_prizes_still_to_win_and_won(client):
    competition = instant_win_competition(
        instant=(("£10 cash", "10.00", 3), ("Free tickets", "5.00", 2))
    )
    won = instant_numbers(competition)[0]
    buy(competition, numbers=[won])
    winner = Winner.objects.get(competition=competition)
    Winner.objects.filter(pk=winner.pk).update(
        verification_status="approved",
        is_published=True,
        published_at=timezone.now(),
        location="Leeds",
    )
    page = client.get(competition.get_absolute_url()).content.decode()
    assert "Instant wins" in page
    prize = winner.prize.title
    other = "Free tickets" if prize == "£10 cash" else "£10 cash"
    section = page[page.index('id="instant-wins"') :]
    assert f"Ticket #{won}</strong> · {winner.display_name}, Leeds" in section
    assert re.search(rf"{re.escape(prize)}.*?\d still to win", section, re.S)
    assert f"{other}" in section
    assert competition.instant_wins_commitment in section


# ---------------------------------------------------------------- never shown before won


def big_instant_competition():
    """Numbers of six or seven digits, so finding one in a page means it leaked."""
    return instant_win_competition(
        max_tickets=2_000_000,
        max_tickets_per_user=100,
        instant=(("£10 cash", "10.00", 8),),
    )


def test_the_numbers_appear_in_no_page_or_api_before_they_are_won(client):
    """(The pick-your-numbers grid lists every number, these among them, as any free number:
    the next test.)"""
    competition = big_instant_competition()
    # Numbers of five or more digits only: a shorter one can appear in a page for other
    # reasons. (Each of the 8 is under 10,000 with odds of 1 in 200, so several are looked for.)
    numbers = [n for n in instant_numbers(competition) if n > 9_999]
    assert len(numbers) >= 5
    customer = UserFactory()
    client.force_login(customer)
    bodies = {
        "page": client.get(competition.get_absolute_url()),
        "api": client.get(f"/api/competitions/{competition.pk}"),
        "list api": client.get("/api/competitions?status=active"),
        "draw api": client.get(f"/api/draws/{competition.pk}"),
        "draw page": client.get(reverse("draws:detail", args=[competition.slug])),
    }
    for name, response in bodies.items():
        assert response.status_code == 200, name
        text = response.content.decode()
        for number in numbers:
            assert not shows_number(number, text), (name, number)
    api = json.loads(bodies["api"].content)
    assert api["instantWinsCommitment"] == competition.instant_wins_commitment
    assert api["instantWins"] == [
        {"title": "£10 cash", "value": "10.00", "count": 8, "won": 0, "void": 0, "left": 8}
    ]
    draw_api = json.loads(bodies["draw api"].content)["instantWins"]
    assert draw_api["revealed"] is False and draw_api["numbers"] is None
    assert draw_api["salt"] is None


def test_the_pick_grid_shows_an_instant_win_number_like_any_free_number(client):
    competition = big_instant_competition()
    number = instant_numbers(competition)[0]
    client.force_login(UserFactory())
    url = reverse("tickets:pick", args=[competition.slug]) + f"?find={number}"
    html = client.get(url).content.decode()
    neighbour = number + 1 if number % 100 else number - 1

    def cell(n):
        match = re.search(
            rf'<div class="pick-cell">\s*<input [^>]*value="{n}".*?</div>', html, re.S
        )
        assert match, n
        return match.group(0).replace(str(n), "N")

    assert cell(number) == cell(neighbour)
    assert "instant" not in cell(number).lower()
    # Only sales make a number taken: once sold, it is greyed out like any other.
    buy(competition, numbers=[number])
    html = client.get(url).content.decode()
    assert "disabled" in cell(number) and "disabled" not in cell(neighbour)


def test_a_won_number_may_show_the_others_stay_secret(client):
    competition = big_instant_competition()
    won, *others = instant_numbers(competition)
    buy(competition, numbers=[won])
    page = client.get(competition.get_absolute_url()).content.decode()
    assert f"#{won}" in page
    api = client.get(f"/api/draws/{competition.pk}").content.decode()
    assert str(won) in api
    for number in others:
        assert not shows_number(number, page) and not shows_number(number, api)
