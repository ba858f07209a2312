"""A competition that closes below its minimum of tickets: extend, cancel or draw anyway,
applied once at close by the periodic job, overridden by staff with a reason, told to every
entrant and shown on the competition page."""

from datetime import timedelta

import pytest
from django.urls import reverse

from competitions.lifecycle import Status
from competitions.models import MinimumOutcome, MinimumOutcomeRecord
from competitions.signals import competition_close_moved
from core.models import AuditEntry
from draws import services
from draws.exceptions import OutcomeRefused
from draws.minimum import minimum_outcome_apply, minimum_outcome_cancel_extended
from draws.services import draw_due_competition
from notifications.models import Notification
from tests.factories import UserFactory, active_competition
from tickets.models import CancellationJob, Ticket

from .conftest import after_end, buy

pytestmark = pytest.mark.django_db

Kind = Notification.Kind


def short_competition(outcome, **kw):
    """Needs 10 tickets, has 4 from three customers (one with a phone and consent to hear)."""
    competition = active_competition(min_tickets=10, min_tickets_outcome=outcome, **kw)
    buy(competition, quantity=2)
    buy(competition, quantity=1, user=UserFactory(phone="+447700900123", marketing_consent=True))
    buy(competition, quantity=1, user=UserFactory(phone="+447700900456"))
    competition.refresh_from_db()
    return competition


@pytest.fixture
def run_job(django_capture_on_commit_callbacks):
    """The periodic job's close step, with the work it queues after commit (the cancellation
    job, the messages to every entrant) run as a worker would."""

    def run(**kw):
        with django_capture_on_commit_callbacks(execute=True):
            return services.draws_close_and_find_due(**kw)

    return run


def messages_of(kind, competition=None):
    found = Notification.objects.filter(kind=kind)
    if competition is not None:
        found = found.filter(idempotency_key__startswith=f"entrants-{competition.pk}-")
    return found


def test_extend_moves_the_close_and_the_draw_and_tells_every_entrant(client, run_job):
    competition = short_competition(MinimumOutcome.EXTEND, min_tickets_extend_days=5)
    moved = []
    competition_close_moved.connect(
        lambda sender, **kw: moved.append(kw), weak=False, dispatch_uid="test-close-moved"
    )
    try:
        closed_at, gap = competition.ends_at, competition.draw_at - competition.ends_at
        due = run_job(now=after_end(competition))
    finally:
        competition_close_moved.disconnect(dispatch_uid="test-close-moved")

    competition.refresh_from_db()
    assert competition.pk not in due
    assert competition.status == Status.ACTIVE  # back on sale
    # N days from when the job found it closed (a minute after the close here).
    assert competition.ends_at == closed_at + timedelta(minutes=1, days=5)
    assert competition.draw_at - competition.ends_at == gap
    assert [m["previous_ends_at"] for m in moved] == [closed_at]  # the beacon round's hook
    record = MinimumOutcomeRecord.objects.get(competition=competition)
    assert (record.outcome, record.close_number, record.decided_by) == ("extend", 0, None)
    assert record.new_ends_at == competition.ends_at
    # Three entrants: three e-mails; a text only for the one who agreed to hear from us.
    emails = messages_of(Kind.COMPETITION_EXTENDED).filter(channel="email")
    assert emails.count() == 3
    assert messages_of(Kind.COMPETITION_EXTENDED).filter(channel="sms").count() == 1
    assert "minimum of 10 tickets was not reached" in emails.first().payload["context"]["body"]
    assert AuditEntry.objects.filter(action="competition.minimum_extend").exists()
    assert competition.draw_log.filter(action="minimum_extend").exists()

    html = client.get(competition.get_absolute_url()).content.decode()
    assert "Extended to" in html and "the minimum of 10 tickets was not reached" in html


def test_the_periodic_job_running_twice_applies_nothing_twice(run_job):
    competition = short_competition(MinimumOutcome.EXTEND)
    now = after_end(competition)
    run_job(now=now)
    competition.refresh_from_db()
    ends_at = competition.ends_at
    sent = Notification.objects.count()

    run_job(now=now)
    run_job(now=now + timedelta(minutes=1))

    competition.refresh_from_db()
    assert competition.ends_at == ends_at
    assert MinimumOutcomeRecord.objects.filter(competition=competition).count() == 1
    assert Notification.objects.count() == sent


def test_extends_at_most_k_times_then_cancels_and_refunds(client, run_job):
    competition = short_competition(MinimumOutcome.EXTEND, min_tickets_max_extensions=2)
    for _ in range(2):
        run_job(now=after_end(competition))
        competition.refresh_from_db()
        assert competition.status == Status.ACTIVE
    run_job(now=after_end(competition))

    competition.refresh_from_db()
    outcomes = list(competition.minimum_outcomes.values_list("close_number", "outcome"))
    assert outcomes == [(0, "extend"), (1, "extend"), (2, "cancel")]
    assert competition.status == Status.CANCELLED
    assert CancellationJob.objects.get(competition=competition).status == "done"
    assert not Ticket.objects.filter(competition=competition, status="active").exists()
    # Each extension told the three entrants once; the cancellation too.
    assert messages_of(Kind.COMPETITION_EXTENDED).filter(channel="email").count() == 6
    assert messages_of(Kind.COMPETITION_RESULT).filter(channel="email").count() == 3
    html = client.get(competition.get_absolute_url()).content.decode()
    assert "Cancelled: refunds issued." in html


def test_after_the_last_extension_it_may_draw_anyway(run_job):
    competition = short_competition(
        MinimumOutcome.EXTEND, min_tickets_then=MinimumOutcome.DRAW_ANYWAY
    )
    run_job(now=after_end(competition))
    competition.refresh_from_db()
    now = competition.draw_at + timedelta(minutes=1)

    assert run_job(now=now) == [competition.pk]
    draw = draw_due_competition(competition_id=competition.pk, now=now)
    assert draw.status == "completed"
    assert list(competition.minimum_outcomes.values_list("outcome", flat=True)) == [
        "extend",
        "draw_anyway",
    ]


def test_cancel_at_close_refunds_everyone_and_tells_each_entrant_once(run_job):
    competition = short_competition(MinimumOutcome.CANCEL)
    run_job(now=after_end(competition))
    run_job(now=after_end(competition, minutes=2))

    competition.refresh_from_db()
    assert competition.status == Status.CANCELLED
    assert competition.minimum_outcomes.get().outcome == "cancel"
    assert not Ticket.objects.filter(competition=competition, status="active").exists()
    results = messages_of(Kind.COMPETITION_RESULT, competition)
    assert results.filter(channel="email").count() == 3
    assert "has been cancelled" in results.first().payload["context"]["body"]


def test_draw_anyway_draws_at_the_draw_time(run_job):
    competition = short_competition(MinimumOutcome.DRAW_ANYWAY)
    now = competition.draw_at + timedelta(minutes=1)
    assert run_job(now=now) == [competition.pk]
    assert draw_due_competition(competition_id=competition.pk, now=now).status == "completed"


def test_hold_waits_for_staff_who_override_with_a_reason(admins, run_job):
    competition = short_competition(MinimumOutcome.HOLD)
    now = after_end(competition)
    assert run_job(now=now) == []
    run_job(now=now)
    competition.refresh_from_db()
    assert competition.live_status(now) == Status.ENDED
    assert not competition.minimum_outcomes.exists()
    alerts = Notification.objects.filter(
        kind=Kind.ADMIN_ALERT, payload__subject__icontains="minimum"
    )
    assert alerts.count() == 1  # once per close, however often the job runs

    staff = UserFactory(is_staff=True)
    with pytest.raises(OutcomeRefused):
        minimum_outcome_apply(competition=competition, outcome="extend", by=staff, reason=" ")
    record = minimum_outcome_apply(
        competition=competition, outcome="extend", by=staff, reason="Launch was late", now=now
    )
    assert record.decided_by == staff and record.reason == "Launch was late"
    entry = AuditEntry.objects.get(action="competition.minimum_extend")
    assert entry.actor == staff and entry.note == "Launch was late"
    with pytest.raises(OutcomeRefused):  # decided at this close: not twice
        minimum_outcome_apply(competition=competition, outcome="cancel", by=staff, reason="x")


def test_staff_cancel_an_extension_early(run_job):
    competition = short_competition(MinimumOutcome.EXTEND)
    run_job(now=after_end(competition))
    staff = UserFactory(is_staff=True)

    minimum_outcome_cancel_extended(competition=competition, by=staff, reason="Prize withdrawn")

    competition.refresh_from_db()
    assert competition.status == Status.CANCELLED
    assert competition.minimum_outcomes.latest("close_number").outcome == "cancel"


def test_a_competition_that_reached_its_minimum_is_drawn_as_usual(run_job):
    competition = active_competition(min_tickets=2, min_tickets_outcome=MinimumOutcome.CANCEL)
    buy(competition, quantity=3)
    competition.refresh_from_db()
    now = competition.draw_at + timedelta(minutes=1)
    assert run_job(now=now) == [competition.pk]
    assert not competition.minimum_outcomes.exists()


# --- the back office ---------------------------------------------------------------------


def test_dashboard_lists_pending_and_applied_outcomes(admin_client, run_job):
    held = short_competition(MinimumOutcome.HOLD, title="Held prize")
    extended = short_competition(MinimumOutcome.EXTEND, title="Extended prize")
    now = after_end(extended)
    run_job(now=now)

    from backoffice.dashboard import dashboard_figures

    figures = dashboard_figures(now=now)
    assert [c.pk for c in figures["below_minimum"]] == [held.pk]
    assert [r.competition_id for r in figures["minimum_applied"]] == [extended.pk]


def test_admin_override_page_applies_the_chosen_outcome(admin_client, admin_user, run_job):
    competition = short_competition(MinimumOutcome.HOLD)
    url = reverse("admin:competitions_competition_minimum", args=[competition.pk])
    # Before the close staff change the planned outcome (with a reason).
    response = admin_client.post(url, {"outcome": "cancel", "reason": "Supplier said so"})
    assert response.status_code == 302
    competition.refresh_from_db()
    assert competition.min_tickets_outcome == "cancel"
    assert AuditEntry.objects.get(action="competition.minimum_outcome").note == "Supplier said so"

    page = admin_client.get(reverse("admin:competitions_competition_change", args=[competition.pk]))
    assert "Outcome below the minimum" in page.content.decode()
