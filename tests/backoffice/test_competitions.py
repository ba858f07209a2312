from datetime import timedelta

import pytest
from django.urls import reverse

from competitions.exceptions import CompetitionError
from competitions.models import Competition, CompetitionImage
from competitions.services import competition_change_dates
from tests.backoffice.conftest import (
    audit_entries,
    confirm_action,
    messages_of,
    post_action,
)
from tests.factories import active_competition, draft_ready_to_activate
from tests.test_admin import form_data, png, split_datetime
from tickets.models import Order, Refund, Ticket

pytestmark = pytest.mark.django_db
LABEL = "competitions.competition"


def test_deactivate_only_without_tickets(operations, operations_user, sale):
    empty = active_competition(title="Win a Rolex", slug="win-a-rolex")
    _, response = confirm_action(operations, LABEL, "deactivate", [empty, sale.competition])
    assert any("has tickets" in m for m in messages_of(response))
    empty.refresh_from_db()
    sale.competition.refresh_from_db()
    assert empty.status == "draft" and empty.draw_seed == "" and empty.seed_commitment == ""
    assert sale.competition.status == "active"
    [entry] = audit_entries("competition.deactivate", empty)
    assert entry.actor == operations_user and entry.before["status"] == "active"
    assert "draw_seed" not in entry.before


def test_duplicate_makes_a_new_draft_with_answers_prizes_and_images(operations, sale):
    CompetitionImage.objects.create(competition=sale.competition, image=png(), alt_text="Red")
    post_action(operations, LABEL, "duplicate", [sale.competition])
    post_action(operations, LABEL, "duplicate", [sale.competition])
    copies = Competition.objects.filter(slug__startswith="win-a-tesla-copy").order_by("id")
    assert [c.slug for c in copies] == ["win-a-tesla-copy", "win-a-tesla-copy-2"]
    copy = copies[0]
    assert copy.status == "draft" and copy.seed_commitment == "" and copy.tickets_sold == 0
    assert copy.answers.count() == 3 and copy.answers.filter(is_correct=True).count() == 1
    assert copy.prizes.count() == 1 and copy.images.get().alt_text == "Red"
    assert len(audit_entries("competition.duplicate", copy)) == 1


def test_answers_edited_on_the_page_are_audited(operations):
    draft = draft_ready_to_activate(title="Win a Rolex", slug="win-a-rolex")
    change = reverse("admin:competitions_competition_change", args=[draft.pk])
    data = form_data(operations.get(change), "competition_form")
    first_answer = next(k for k in data if k.startswith("answers-") and k.endswith("-text"))
    data[first_answer] = ["Edinburgh (city)"]
    assert operations.post(change, data).status_code == 302
    [entry] = audit_entries("competition.edit_answerchoice", draft)
    assert entry.after["changed"] == ["Edinburgh (city): text"]


def test_dates_change_through_the_service_and_are_refused_once_drawn(operations, sale, drawn):
    later = active_competition(title="Win a Rolex", slug="win-a-rolex")
    change = reverse("admin:competitions_competition_change", args=[later.pk])
    data = form_data(operations.get(change), "competition_form")
    new_end = later.ends_at + timedelta(days=3)
    data["ends_at_0"], data["ends_at_1"] = split_datetime(new_end)
    data["draw_at_0"], data["draw_at_1"] = split_datetime(new_end)
    assert operations.post(change, data).status_code == 302
    later.refresh_from_db()
    assert later.ends_at == new_end.replace(microsecond=0)
    [entry] = audit_entries("competition.dates", later)
    assert entry.before["ends_at"] != entry.after["ends_at"]

    with pytest.raises(CompetitionError, match="drawn"):
        competition_change_dates(
            competition=drawn.competition,
            by=None,
            starts_at=drawn.competition.starts_at,
            ends_at=drawn.competition.ends_at + timedelta(days=1),
            draw_at=drawn.competition.draw_at + timedelta(days=1),
        )


def test_delete_refused_once_tickets_exist(operations, sale):
    empty = draft_ready_to_activate(title="Win a Rolex", slug="win-a-rolex")
    delete = reverse("admin:competitions_competition_delete", args=[sale.competition.pk])
    assert operations.post(delete, {"post": "yes"}).status_code == 403
    response = post_action(
        operations, LABEL, "delete_selected", [sale.competition, empty], post="yes"
    )
    assert response.status_code in (200, 302)
    assert Competition.objects.filter(pk=sale.competition.pk).exists()
    empty_delete = reverse("admin:competitions_competition_delete", args=[empty.pk])
    assert operations.post(empty_delete, {"post": "yes"}).status_code == 302
    assert not Competition.objects.filter(pk=empty.pk).exists()
    assert len(audit_entries("competition.delete")) == 1


def test_cancel_and_refund_all(
    operations, operations_user, sale, django_capture_on_commit_callbacks
):
    from tickets.services import postal_entry_add

    [postal] = postal_entry_add(user=sale.customer, competition=sale.competition)
    # The refunds run after the cancel commits (a background job, tickets.cancellation).
    with django_capture_on_commit_callbacks(execute=True):
        first, done = confirm_action(
            operations, LABEL, "cancel_and_refund", [sale.competition], reason="Prize unavailable"
        )
    assert "4 tickets sold" in first.content.decode()
    assert done.status_code == 302
    sale.competition.refresh_from_db()
    assert sale.competition.status == "cancelled" and sale.competition.cancelled_at
    assert sale.competition.tickets_sold == 0
    assert set(Ticket.objects.filter(order=sale.order).values_list("status", flat=True)) == {
        "refunded"
    }
    assert Order.objects.get(pk=sale.order.pk).status == "refunded"
    postal.refresh_from_db()
    assert postal.status == "refunded"
    refund = Refund.objects.get(order=sale.order)
    assert refund.reason == "competition_cancelled" and refund.created_by == operations_user
    [entry] = audit_entries("competition.cancel", sale.competition)
    assert entry.before["status"] == "active" and entry.after["status"] == "cancelled"
    assert entry.note.startswith("Prize unavailable")


def test_cancelling_warns_of_the_instant_wins_it_voids(operations, monkeypatch):
    from tests.factories import (
        UserFactory,
        force_lucky_dip,
        instant_numbers,
        instant_win_competition,
    )
    from tickets.services import order_record_paid

    competition = instant_win_competition(max_tickets=1000, max_tickets_per_user=100)
    force_lucky_dip(monkeypatch, instant_numbers(competition)[0])
    order_record_paid(
        user=UserFactory(),
        competition=competition,
        answer=competition.answers.get(is_correct=True),
        quantity=1,
    )

    page = post_action(operations, LABEL, "cancel_and_refund", [competition])

    assert "1 instant win(s) already won will be void" in page.content.decode()
    competition.refresh_from_db()
    assert competition.status == "active"  # only asked so far


def test_cancel_refused_once_drawn(operations, drawn):
    _, done = confirm_action(
        operations, LABEL, "cancel_and_refund", [drawn.competition], reason="x"
    )
    assert any("already drawn" in m for m in messages_of(done))
    assert not Refund.objects.exists()


def test_support_cannot_cancel_deactivate_or_duplicate(support, sale):
    for action in ("cancel_and_refund", "deactivate", "duplicate"):
        post_action(support, LABEL, action, [sale.competition], confirmed="yes", reason="x")
    sale.competition.refresh_from_db()
    assert sale.competition.status == "active"
    assert Competition.objects.count() == 1
    assert audit_entries("competition.cancel") == []


def test_activation_from_the_admin_is_audited(operations, operations_user):
    draft = draft_ready_to_activate(title="Win a Rolex", slug="win-a-rolex")
    post_action(operations, LABEL, "activate", [draft])
    [entry] = audit_entries("competition.activate", draft)
    draft.refresh_from_db()
    assert entry.actor == operations_user
    assert entry.before == {"status": "draft"}
    assert entry.after["seed_commitment"] == draft.seed_commitment
    assert draft.draw_seed not in str(entry.after)
