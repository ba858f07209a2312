"""The staff dashboard on the admin index: every figure in a fixed number of queries."""

from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone


def dashboard_figures(now=None) -> dict:
    """Everything on the staff dashboard, in a fixed number of queries."""
    from competitions.lifecycle import LIVE, Status, status_q
    from competitions.models import Competition
    from competitions.selectors import skill_answer_summary, with_weak_skill_question
    from core.models import OperatorSettings
    from notifications.models import Notification
    from tickets.models import Order
    from winners.models import Winner

    now = now or timezone.now()
    start_of_day = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    paid = (Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED, Order.Status.REFUNDED)
    sales = Order.objects.filter(status__in=paid, paid_at__gte=start_of_day).aggregate(
        total=Sum("total"), refunded=Sum("amount_refunded"), orders=Count("id")
    )
    rules = OperatorSettings.current()
    active = list(
        Competition.objects.filter(status_q(Status.ACTIVE, now))
        .select_related("skill_stats")
        .order_by("ends_at", "id")[:50]
    )
    for competition in active:
        competition.skill_answers, competition.skill_warning = skill_answer_summary(
            competition, rules
        )
    # Any competition not yet drawn, on sale or not: a weak question matters until the draw.
    weak_questions = list(
        with_weak_skill_question(Competition.objects.filter(status__in=LIVE), rules)
        .select_related("skill_stats")
        .order_by("ends_at", "id")[:50]
    )
    for competition in weak_questions:
        competition.skill_answers, competition.skill_warning = skill_answer_summary(
            competition, rules
        )
    due = list(
        Competition.objects.filter(status_q(Status.ENDED, now))
        .filter(draw_at__lte=now)
        .order_by("draw_at", "id")[:50]
    )
    awaiting = list(
        Winner.objects.filter(verification_status=Winner.Verification.PENDING)
        .select_related("competition", "prize", "ticket")
        .order_by("created_at", "id")[:50]
    )
    from competitions.models import MinimumOutcomeRecord
    from complaints.services import overdue_complaint_count
    from draws.minimum import minimum_outcomes_pending

    below_minimum = list(minimum_outcomes_pending(now)[:50])
    minimum_applied = list(
        MinimumOutcomeRecord.objects.select_related("competition", "decided_by").order_by(
            "-decided_at", "-id"
        )[:10]
    )

    failed = Notification.objects.aggregate(
        failed=Count("id", filter=Q(status=Notification.Status.FAILED))
    )["failed"]
    return {
        "sales_today": (sales["total"] or Decimal("0")) - (sales["refunded"] or Decimal("0")),
        "sales_gross_today": sales["total"] or Decimal("0"),
        "orders_today": sales["orders"],
        "active_competitions": active,
        "draws_due": due,
        "winners_awaiting": awaiting,
        "below_minimum": below_minimum,
        "minimum_applied": minimum_applied,
        "failed_notifications": failed,
        "overdue_complaints": overdue_complaint_count(now),
        "weak_questions": weak_questions,
    }
