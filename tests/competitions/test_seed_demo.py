from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from competitions.lifecycle import Status
from competitions.models import Bundle, Competition
from complaints.models import Complaint
from draws import fairness
from draws.selectors import ledger_numbers
from tickets.models import DiscountCode, OrderLine, Ticket
from winners.models import Winner


@pytest.mark.django_db(transaction=False)
def test_seed_demo_covers_every_state_and_is_idempotent(
    settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    # What runs once a sale commits (the skill-answer counters) runs here too.
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", verbosity=0)
    now = timezone.now()
    by_status = {}
    for competition in Competition.objects.all():
        by_status.setdefault(competition.live_status(now), []).append(competition)

    assert {Status.DRAFT, Status.UPCOMING, Status.ACTIVE, Status.ENDED, Status.DRAWN} <= set(
        by_status
    )
    active = by_status[Status.ACTIVE]
    assert any(c.tickets_sold > 0 and c.percent_sold < 90 for c in active), "sales under way"
    assert any(c.ends_at - now <= timedelta(hours=1) for c in active), "one closing within the hour"
    assert any(c.percent_sold >= 95 and not c.is_sold_out for c in active), "one nearly sold out"
    assert all(c.images.count() >= 1 for c in Competition.objects.all())
    # The stored status caught up with the clock, so admin filters tell the truth.
    assert all(c.status == c.live_status(now) for c in Competition.objects.all())

    # Every counter matches its tickets, and numbers stay within the competition's range.
    for competition in Competition.objects.exclude(status=Status.DRAFT):
        live = competition.tickets.exclude(status=Ticket.Status.REFUNDED)
        assert live.count() == competition.tickets_sold
        assert not live.filter(number__gt=competition.max_tickets).exists()

    # Drawn demos have published winners and verify from their published data.
    for competition in by_status[Status.DRAWN]:
        draw = competition.draws.get()
        assert fairness.commitment_for(draw.seed) == competition.seed_commitment
        ledger = fairness.LedgerHasher().add_all(ledger_numbers(competition.pk))
        assert (ledger.hexdigest(), ledger.count) == (draw.ledger_hash, draw.entry_count)
        indexes = fairness.winning_indexes(
            seed=draw.seed,
            ledger_hash=draw.ledger_hash,
            entropy=draw.entropy,
            count=draw.entry_count,
            prizes=competition.prizes.filter(kind="draw").count(),
        )
        winners = list(
            competition.winners.filter(instant_win__isnull=True).order_by("prize__position")
        )
        assert [w.ledger_index for w in winners] == indexes
        assert all(w.is_published and w.ticket.status == Ticket.Status.ACTIVE for w in winners)
    assert Winner.objects.published().exists()

    # Multi-buy bundles on sale, demo sales priced with them, and the README's demo code.
    assert Bundle.objects.filter(competition__slug="10000-tax-free-cash").count() == 2
    assert OrderLine.objects.filter(bundle_discount__gt=0).exists()
    assert DiscountCode.objects.get(code="WELCOME10").is_active

    # The back-office has complaints to work on, one of them already past its reply target.
    complaints = Complaint.objects.all()
    assert complaints.count() == 4
    assert complaints.filter(status="open", response_due_at__lt=now).count() == 1

    # How we comply has something to show for each rule, made by the real services.
    from pages.compliance_figures import compliance_figures

    figures = {(f.name, f.period): f.number for _s, f in compliance_figures(now).rows()}
    assert 0 < figures[("Wrong answers to skill questions", "Since launch")] < 50
    assert figures[("Competitions opened for less than the minimum", "Since launch")] == 0
    assert figures[("Free postal entries recorded", "Since launch")] >= 5
    assert figures[("Time to enter a postcard (median)", "Since launch")] is not None
    assert figures[("Complaints answered within our target", "Since launch")] == 50
    assert figures[("Draws verified", "Since launch")] == 2
    assert figures[("Customers asked to set a spending limit", "Since launch")] > 0
    assert figures[("Self-exclusions in force", "Today")] == 1

    counts = (
        Competition.objects.count(),
        Ticket.objects.count(),
        Winner.objects.count(),
        Complaint.objects.count(),
    )
    call_command("seed_demo", verbosity=0)
    assert (
        Competition.objects.count(),
        Ticket.objects.count(),
        Winner.objects.count(),
        Complaint.objects.count(),
    ) == counts


@pytest.mark.django_db
def test_demo_sales_lift_the_operator_rules_only_while_they_are_recorded():
    """Demo customers fill whole competitions, beyond any real customer's cap and without an
    age check; the operator's settings are exactly as they were afterwards."""
    import random
    from decimal import Decimal

    from core.models import OperatorSettings
    from demo import seed as demo
    from tests.factories import UserFactory, active_competition, operator_settings

    operator_settings(monthly_spend_cap=Decimal("1.00"), require_age_verification=True)
    competition = active_competition(max_tickets=60, max_tickets_per_user=30)
    customers = [UserFactory(), UserFactory()]

    budgets = dict.fromkeys(customers, Decimal("1000"))
    demo._sell(competition, customers, 40, random.Random(1), timezone.now(), budgets)

    competition.refresh_from_db()
    assert competition.tickets_sold == 41  # 40 paid and one free postal entry
    spent = sum(Decimal("1000") - left for left in budgets.values())
    assert spent == 40 * competition.ticket_price
    row = OperatorSettings.current()
    assert row.monthly_spend_cap == Decimal("1.00") and row.require_age_verification
