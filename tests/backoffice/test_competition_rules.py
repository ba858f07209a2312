"""The competition rules defined once: what "final" means, the lock on a drawn competition
(enforced by the model and the services, not only by read-only admin fields), deleting
through a service, and activation committing the seed through the draws hook."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from competitions.exceptions import ActivationRefused, CompetitionError, CompetitionLocked
from competitions.lifecycle import FINAL, Status
from competitions.models import Competition, Prize
from competitions.services import (
    competition_activate,
    competition_delete,
    competition_edit_parts,
    competition_update,
)
from competitions.signals import competition_activating
from draws import fairness
from draws.models import DrawLogEntry
from draws.receivers import commit_to_seed
from tests.backoffice.conftest import audit_entries
from tests.factories import draft_ready_to_activate
from tickets.cancellation import competition_cancel

pytestmark = pytest.mark.django_db


def test_final_means_drawn_or_cancelled_in_python_and_sql(drawn):
    assert {Status.DRAWN, Status.CANCELLED} == FINAL
    draft = draft_ready_to_activate(title="Win a Rolex", slug="win-a-rolex")
    cancelled = draft_ready_to_activate(title="Win a Mini", slug="win-a-mini")
    competition_activate(competition=cancelled)
    competition_cancel(competition=cancelled, by=None, reason="Prize unavailable")
    cancelled.refresh_from_db()
    assert drawn.competition.is_final and cancelled.is_final and not draft.is_final
    final = set(Competition.objects.final())
    assert final == {drawn.competition, cancelled}
    assert set(Competition.objects.not_final()) == {draft}


def test_a_drawn_competition_refuses_a_changed_price_at_every_level(drawn):
    competition = Competition.objects.get(pk=drawn.competition.pk)
    competition.ticket_price = Decimal("0.50")
    # The model: a plain save, and the validation every form runs.
    with pytest.raises(CompetitionLocked, match="ticket_price"):
        competition.save()
    with pytest.raises(ValidationError) as refused:
        competition.full_clean()
    assert "ticket_price" in refused.value.message_dict
    # The service staff edits go through.
    with pytest.raises(CompetitionLocked, match="ticket_price"):
        competition_update(competition=competition, by=None, fields=["ticket_price"])
    competition.refresh_from_db()
    assert competition.ticket_price == drawn.competition.ticket_price
    # What is not part of the sale still changes, and is audited.
    competition.summary = "Drawn live on Friday"
    competition_update(competition=competition, by=None, fields=["summary"])
    assert Competition.objects.get(pk=competition.pk).summary == "Drawn live on Friday"
    [entry] = audit_entries("competition.edit", competition)
    assert entry.after == {"summary": "Drawn live on Friday"}


def test_a_live_competition_still_changes_price_but_not_its_question(sale):
    competition = Competition.objects.get(pk=sale.competition.pk)
    competition.ticket_price = Decimal("1.50")
    competition.save()
    competition.question = "Something else?"
    with pytest.raises(CompetitionLocked, match="question"):
        competition.save()


def test_prizes_of_a_final_competition_are_fixed(drawn):
    def add_prize():
        Prize.objects.create(
            competition=drawn.competition, kind="draw", position=9, title="Extra", value=1
        )
        return {"added": ["Extra"], "changed": [], "deleted": []}

    with pytest.raises(CompetitionLocked):
        competition_edit_parts(competition=drawn.competition, by=None, part="prize", save=add_prize)
    assert not Prize.objects.filter(title="Extra").exists()


def test_delete_is_a_service_refused_with_tickets_and_audited(sale, operations_user):
    with pytest.raises(CompetitionError, match="has tickets"):
        competition_delete(competition=sale.competition, by=operations_user)
    assert Competition.objects.filter(pk=sale.competition.pk).exists()
    assert not audit_entries("competition.delete")

    draft = draft_ready_to_activate(title="Win a Rolex", slug="win-a-rolex")
    competition_delete(competition=draft, by=operations_user)
    assert not Competition.objects.filter(pk=draft.pk).exists()
    [entry] = audit_entries("competition.delete")
    assert entry.actor == operations_user and entry.before["slug"] == "win-a-rolex"


def test_activation_commits_the_seed_through_the_draws_hook():
    draft = draft_ready_to_activate()
    competition = competition_activate(competition=draft)
    assert competition.seed_commitment == fairness.commitment_for(competition.draw_seed)
    actions = DrawLogEntry.objects.filter(competition=competition).values_list("action", flat=True)
    assert list(actions) == ["seed_committed", "beacon_round_announced"]


def test_activation_without_a_seed_committed_is_refused():
    draft = draft_ready_to_activate()
    competition_activating.disconnect(dispatch_uid="draws.commit_to_seed")
    try:
        with pytest.raises(ActivationRefused, match="no draw seed"):
            competition_activate(competition=draft)
    finally:
        competition_activating.connect(commit_to_seed, dispatch_uid="draws.commit_to_seed")
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT and not DrawLogEntry.objects.exists()


def test_dates_of_a_cancelled_competition_are_fixed_too():
    competition = competition_activate(competition=draft_ready_to_activate())
    competition = competition_cancel(competition=competition, by=None, reason="No prize")
    competition.ends_at += timedelta(days=1)
    with pytest.raises(CompetitionLocked, match="ends_at"):
        competition.save()
