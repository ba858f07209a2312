"""Every winner step writes its own audit entry; the write-up is the only thing staff edit;
a draw's winners are recorded by the winners app through the draws hook."""

from datetime import timedelta

import pytest

from core.models import AuditEntry
from draws.models import Draw
from draws.services import draw_perform
from draws.signals import prizes_won
from tests.factories import UserFactory, active_competition, correct_answer
from tickets.services import order_record_paid
from winners.exceptions import NotApproved, WinnerError
from winners.models import Winner
from winners.receivers import record_winners
from winners.services import winner_approve, winner_edit, winner_publish

pytestmark = pytest.mark.django_db


def _sold():
    competition = active_competition()
    buyer = UserFactory(first_name="Sarah", last_name="Khan")
    order_record_paid(
        user=buyer, competition=competition, answer=correct_answer(competition), quantity=1
    )
    return competition


def _draw(competition):
    return draw_perform(
        competition=competition,
        mode=Draw.Mode.AUTOMATIC,
        now=competition.ends_at + timedelta(minutes=1),
    )


@pytest.fixture
def winner():
    _draw(_sold())
    return Winner.objects.get()


def _entries(action, winner):
    return list(AuditEntry.objects.filter(action=action, object_id=str(winner.pk)))


def test_approve_and_publish_audit_themselves(winner):
    staff = UserFactory(is_staff=True)
    with pytest.raises(NotApproved):
        winner_publish(winner=winner, by=staff)
    assert not _entries("winner.publish", winner)

    winner_approve(winner=winner, by=staff)
    [approved] = _entries("winner.approve", winner)
    assert approved.actor == staff
    assert approved.before["verification_status"] == "pending"
    assert approved.after["verification_status"] == "approved"

    winner_publish(winner=winner, by=staff)
    [published] = _entries("winner.publish", winner)
    assert published.actor == staff and published.after["is_published"] is True


def test_only_the_write_up_is_edited_and_the_edit_is_audited(winner):
    staff = UserFactory(is_staff=True)
    winner.location = "Leeds"
    winner_edit(winner=winner, by=staff, fields=["location"])
    [entry] = _entries("winner.edit", winner)
    assert entry.before == {"location": ""} and entry.after == {"location": "Leeds"}
    with pytest.raises(WinnerError, match="ledger_index"):
        winner_edit(winner=winner, by=staff, fields=["ledger_index"])


def test_a_draw_whose_winners_nobody_records_is_refused_whole():
    competition = _sold()
    prizes_won.disconnect(dispatch_uid="winners.record_winners")
    try:
        with pytest.raises(RuntimeError, match="winners app"):
            _draw(competition)
    finally:
        prizes_won.connect(record_winners, dispatch_uid="winners.record_winners")
    competition.refresh_from_db()
    assert competition.status == "active"
    assert not Draw.objects.exists() and not Winner.objects.exists()
    assert _draw(competition).winners.count() == 1
