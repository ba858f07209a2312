"""How we comply in figures (pages/compliance_figures.py): each figure counted from what the
services record, zero when nothing has happened, and the page showing them with their period."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from complaints.services import complaint_respond, complaint_submit
from draws.models import Draw
from draws.services import draw_perform
from draws.verification import verify_and_record
from pages.compliance_figures import compliance_figures
from responsible_play.limits import spend_limit_prompt_shown, spend_limit_set
from responsible_play.services import user_self_exclude, user_take_break
from tests.factories import (
    PrizeFactory,
    TicketFactory,
    UserFactory,
    active_competition,
    correct_answer,
    operator_settings,
    wrong_answer,
)
from tickets.models import Refund
from tickets.services import (
    LineRequest,
    order_fulfil,
    order_record_paid,
    order_reserve,
    postal_entry_add,
)

pytestmark = pytest.mark.django_db

SINCE, RECENT, TODAY = "Since launch", "Last 30 days", "Today"


def figure(name: str, period: str = SINCE, now=None):
    """The figure called `name` for `period` (the Figure, with .number and .value)."""
    found = [f for _s, f in compliance_figures(now).rows() if (f.name, f.period) == (name, period)]
    assert len(found) == 1, f"no single figure {name!r} for {period!r}"
    return found[0]


def test_with_nothing_recorded_every_figure_is_zero_or_none_yet():
    figures = compliance_figures()
    numbers = {(f.name, f.period): f.number for _s, f in figures.rows()}

    assert numbers[("Competitions opened for less than the minimum", SINCE)] == 0
    assert numbers[("Credit-card payments refused and refunded", SINCE)] == 0
    assert numbers[("Free postal entries recorded", SINCE)] == 0
    assert numbers[("Draws verified", SINCE)] == 0
    assert numbers[("Self-exclusions in force", TODAY)] == 0
    for undefined in (
        ("Wrong answers to skill questions", SINCE),
        ("Instant wins’ share of prize value", SINCE),
        ("Complaints answered within our target", SINCE),
        ("Time to enter a postcard (median)", SINCE),
    ):
        assert numbers[undefined] is None
    assert figure("Complaints answered within our target").value == "None yet"
    assert figure("Highest instant-win share in one competition").value == "No instant wins yet"


# ---------------------------------------------------------------- minimum open time


def test_competitions_opened_for_less_than_the_minimum_are_counted_from_their_dates():
    now = timezone.now()
    operator_settings(min_open_clear_days=0)  # the tests' competitions open briefly
    short = active_competition(starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=2))
    active_competition(starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=20))
    old_short = active_competition(
        now=now - timedelta(days=40),
        starts_at=now - timedelta(days=40),
        ends_at=now - timedelta(days=39),
        draw_at=now - timedelta(days=39),
    )
    assert short.activated_at and old_short.activated_at

    assert figure("Competitions opened for less than the minimum").number == 0  # no minimum

    operator_settings(min_open_clear_days=3)
    assert figure("Competitions opened for less than the minimum").value == "2 of 3"
    assert figure("Competitions opened for less than the minimum", RECENT).value == "1 of 2"


def test_competitions_activated_under_the_rule_count_zero():
    now = timezone.now()
    operator_settings(min_open_clear_days=3)
    for days in (8, 15, 30):
        active_competition(starts_at=now, ends_at=now + timedelta(days=days))

    found = figure("Competitions opened for less than the minimum")
    assert (found.number, found.value) == (0, "0 of 3")
    assert "at least 3 clear days" in found.meaning


# ---------------------------------------------------------------- instant wins


def test_instant_wins_share_of_prize_value_overall_and_highest_in_one_competition():
    # Each competition's draw prize is worth £1,000 (PrizeFactory).
    plain = active_competition()
    some = active_competition(title="Tech bundle")
    PrizeFactory(competition=some, kind="instant", position=None, quantity=1, value=250)
    many = active_competition(title="Cash week")
    # Three instant wins of £400 each: £1,200 (value is per win, `quantity` wins).
    PrizeFactory(competition=many, kind="instant", position=None, quantity=3, value=400)
    # A draft offers nothing yet: not counted.
    draft = PrizeFactory(kind="instant", position=None, quantity=1, value=99999).competition
    assert draft.status == "draft" and plain.pk

    overall = figure("Instant wins’ share of prize value")
    assert overall.number == pytest.approx(1450 * 100 / 4450)
    assert "£1,450.00 of the £4,450.00" in overall.meaning
    highest = figure("Highest instant-win share in one competition")
    assert highest.number == pytest.approx(1200 * 100 / 2200)
    assert "Cash week" in highest.meaning
    assert figure("Competitions where instant wins were the larger share").number == 1


# ---------------------------------------------------------------- credit cards


def test_credit_card_payments_refused_are_counted_with_their_refunds():
    competition = active_competition(ticket_price=Decimal("5.00"))
    PrizeFactory(competition=competition, kind="instant", position=None, quantity=1)
    for funding in ("credit", "debit", "credit"):
        order = order_reserve(
            user=UserFactory(),
            lines=[LineRequest(competition.pk, correct_answer(competition).pk, quantity=2)],
        )
        order_fulfil(order_id=order.pk, card_funding=funding)
    assert Refund.objects.filter(reason=Refund.Reason.CREDIT_CARD).count() == 2

    found = figure("Credit-card payments refused and refunded")
    assert found.number == 2
    assert "£20.00 in all" in found.meaning
    assert figure("Credit-card payments refused and refunded", RECENT).number == 2


# ---------------------------------------------------------------- limits and exclusions


def test_limit_prompts_limits_in_force_and_self_exclusions():
    now = timezone.now()
    prompted, limited, removed, excluded, ended = (UserFactory() for _ in range(5))
    UserFactory(is_staff=True)  # staff are not customers
    spend_limit_prompt_shown(user=prompted)
    spend_limit_prompt_shown(user=prompted)  # the first time only
    spend_limit_prompt_shown(user=limited)
    spend_limit_set(user=limited, monthly_limit=Decimal("100"))
    spend_limit_set(user=removed, monthly_limit=Decimal("50"), now=now - timedelta(days=10))
    spend_limit_set(user=removed, monthly_limit=None, now=now - timedelta(days=5))  # removed
    spend_limit_set(user=prompted, monthly_limit=Decimal("500"))
    spend_limit_set(user=prompted, monthly_limit=Decimal("900"))  # a raise still cooling off
    user_self_exclude(user=excluded, months=6)
    user_self_exclude(user=ended, months=6, now=now - timedelta(days=400))
    user_take_break(user=ended, days=3)  # a break is not a self-exclusion

    assert figure("Customers asked to set a spending limit").value == "2 of 5"
    assert figure("Personal spending limits in force", TODAY).number == 2
    assert figure("Self-exclusions in force", TODAY).number == 1
    assert figure("Customers who have self-excluded").number == 2


# ---------------------------------------------------------------- postal entries


def test_postal_entries_and_the_median_time_to_enter_them():
    competition = active_competition(max_tickets=100, max_tickets_per_user=20)
    now = timezone.now()
    today = timezone.localdate(now)
    for waited, quantity in ((0, 1), (1, 2), (1, 1), (3, 1), (9, 1)):
        postal_entry_add(
            user=UserFactory(),
            competition=competition,
            quantity=quantity,
            received_on=today - timedelta(days=waited),
            now=now,
        )

    assert figure("Free postal entries recorded").number == 6
    assert figure("Free postal entries recorded", RECENT).number == 6
    median = figure("Time to enter a postcard (median)")
    assert (median.number, median.value) == (1, "1 day")


def test_the_median_of_an_even_number_of_postcards_is_the_mean_of_the_middle_two():
    competition = active_competition(max_tickets=100, max_tickets_per_user=20)
    today = timezone.localdate()
    for waited in (0, 2, 4, 10):
        postal_entry_add(
            user=UserFactory(), competition=competition, received_on=today - timedelta(days=waited)
        )

    assert figure("Time to enter a postcard (median)").value == "3 days"


def test_a_postcard_cannot_arrive_after_it_is_entered():
    competition = active_competition()
    with pytest.raises(ValueError):
        postal_entry_add(
            user=UserFactory(), competition=competition, received_on=date.today() + timedelta(2)
        )


# ---------------------------------------------------------------- draws


def drawn(now) -> Draw:
    competition = active_competition(
        now=now - timedelta(days=3),
        starts_at=now - timedelta(days=3),
        ends_at=now - timedelta(hours=1),
        max_tickets=50,
        max_tickets_per_user=50,
    )
    for number in range(1, 6):
        TicketFactory(competition=competition, number=number)
    return draw_perform(competition=competition, mode=Draw.Mode.ADMIN)


def test_draws_count_as_verified_once_their_checks_passed_for_the_draw_as_it_stands():
    now = timezone.now()
    checked, unchecked, tampered = drawn(now), drawn(now), drawn(now)
    verify_and_record(checked)
    Draw.objects.filter(pk=tampered.pk).update(winning_index=(tampered.winning_index + 1) % 5)
    tampered.refresh_from_db()
    verify_and_record(tampered)
    assert unchecked.pk

    found = figure("Draws verified")
    assert (found.number, found.value) == (1, "1 of 3")
    assert "1 draw did not match" in found.meaning
    assert "1 draw not re-checked yet" in found.meaning


def test_a_draw_that_changes_after_its_check_is_unchecked_again():
    draw = drawn(timezone.now())
    verify_and_record(draw)
    assert figure("Draws verified").number == 1

    Draw.objects.filter(pk=draw.pk).update(performed_at=timezone.now() + timedelta(seconds=1))

    assert figure("Draws verified").value == "0 of 1"


# ---------------------------------------------------------------- complaints


def test_complaints_answered_within_their_target():
    operator_settings(complaint_response_days=5, complaint_resolution_days=28)
    staff = UserFactory(is_staff=True)
    now = timezone.now()

    def complaint(days_ago: int, answered_after: int | None):
        received = now - timedelta(days=days_ago)
        made = complaint_submit(
            name="Ann Other",
            email="ann@example.com",
            category="other",
            message="Something went wrong with my order.",
            now=received,
        )
        if answered_after is not None:
            complaint_respond(
                complaint=made,
                by=staff,
                message="We are on it.",
                now=received + timedelta(days=answered_after),
            )

    complaint(60, 1)  # in time, long ago
    complaint(50, 8)  # late, long ago
    complaint(10, 2)  # in time, recent
    complaint(9, None)  # past its target, still waiting
    complaint(1, None)  # not due yet

    found = figure("Complaints answered within our target")
    assert found.number == pytest.approx(200 / 3)
    assert found.value == "66.7%"
    assert "1 still waiting are past it" in found.meaning
    assert figure("Complaints answered within our target", RECENT).number == 100


# ---------------------------------------------------------------- skill answers


def test_wrong_answers_are_counted_once_each_paid_order_commits(
    django_capture_on_commit_callbacks,
):
    competition = active_competition(max_tickets=100, max_tickets_per_user=50)
    with django_capture_on_commit_callbacks(execute=True):
        for answer in (correct_answer, correct_answer, correct_answer, wrong_answer):
            order_record_paid(
                user=UserFactory(), competition=competition, answer=answer(competition), quantity=2
            )

    found = figure("Wrong answers to skill questions")
    assert (found.number, found.value) == (25, "25%")
    assert "Of 4 answers" in found.meaning


# ---------------------------------------------------------------- the page


def test_the_page_shows_each_figure_with_its_period_and_when_they_were_counted(client):
    competition = active_competition(max_tickets=100, max_tickets_per_user=20)
    postal_entry_add(user=UserFactory(), competition=competition, quantity=4)

    html = client.get("/how-we-comply/").content.decode()

    as_at = timezone.localtime().strftime("%-d %B %Y")
    assert "Figures as at <time datetime=" in html and as_at in html
    free_entry = html.split('id="free-entry"', 1)[1].split("</section>", 1)[0]
    assert "Free postal entries recorded" in free_entry
    assert '<strong class="compliance-value">4</strong>' in free_entry
    assert "Since launch" in free_entry and "Last 30 days" in free_entry
    for anchor, name in (
        ("competitions", "Competitions opened for less than the minimum"),
        ("competitions", "Instant wins’ share of prize value"),
        ("spending", "Credit-card payments refused and refunded"),
        ("spending", "Personal spending limits in force"),
        ("breaks", "Self-exclusions in force"),
        ("draws", "Draws verified"),
        ("complaints", "Complaints answered within our target"),
    ):
        section = html.split(f'id="{anchor}"', 1)[1].split("</section>", 1)[0]
        assert name in section, (anchor, name)


def test_anonymous_visitors_get_the_cached_page_and_a_settings_change_shows_at_once(
    client, settings, django_capture_on_commit_callbacks
):
    settings.FAIRDRAW_PAGE_CACHE_SECONDS = 60
    competition = active_competition(max_tickets=100, max_tickets_per_user=20)
    assert (
        "We reply within <strong>5 days</strong>" in client.get("/how-we-comply/").content.decode()
    )
    postal_entry_add(user=UserFactory(), competition=competition, quantity=4)
    # New figures wait for the page's freshness (seconds in production)...
    cached = client.get("/how-we-comply/").content.decode()
    assert '<strong class="compliance-value">4</strong>' not in cached

    # ...but a change of the rules shows at once.
    from core.operator import operator_settings_update

    with django_capture_on_commit_callbacks(execute=True):
        operator_settings_update(
            by=UserFactory(is_superuser=True, is_staff=True), complaint_response_days=3
        )
    html = client.get("/how-we-comply/").content.decode()
    assert "We reply within <strong>3 days</strong>" in html
    assert '<strong class="compliance-value">4</strong>' in html
