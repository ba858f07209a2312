"""Pieces the back-office admin pages share: the confirmation page every destructive action
shows first, and the staff dashboard's figures."""

from decimal import Decimal

from django.contrib.admin import helpers
from django.db.models import Count, Q, Sum
from django.template.response import TemplateResponse
from django.utils import timezone

CONFIRMED = "confirmed"


def is_confirmed(request) -> bool:
    return request.POST.get(CONFIRMED) == "yes"


def confirm_page(
    model_admin,
    request,
    queryset,
    *,
    action: str,
    title: str,
    items: list[str],
    summary: str = "",
    warnings: list[str] = (),
    reason_label: str = "",
    button: str = "Yes, I'm sure",
):
    """The "are you sure?" page of an admin action: lists what will change and re-posts the
    same action with the same selection plus `confirmed=yes` (and a reason if asked for)."""
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": opts,
        "action": action,
        "items": items,
        "summary": summary,
        "warnings": list(warnings),
        "reason_label": reason_label,
        "button": button,
        "selected": [str(pk) for pk in queryset.values_list("pk", flat=True)],
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "confirmed_name": CONFIRMED,
        "media": model_admin.media,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/backoffice/confirm.html", context)


def dashboard_figures(now=None) -> dict:
    """Everything on the staff dashboard, in a fixed number of queries."""
    from competitions.lifecycle import Status, status_q
    from competitions.models import Competition
    from notifications.models import Notification
    from tickets.models import Order
    from winners.models import Winner

    now = now or timezone.now()
    start_of_day = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    paid = (Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED, Order.Status.REFUNDED)
    sales = Order.objects.filter(status__in=paid, paid_at__gte=start_of_day).aggregate(
        total=Sum("total"), refunded=Sum("amount_refunded"), orders=Count("id")
    )
    active = list(
        Competition.objects.filter(status_q(Status.ACTIVE, now)).order_by("ends_at", "id")[:50]
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
    from .complaints import overdue_complaint_count

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
        "failed_notifications": failed,
        "overdue_complaints": overdue_complaint_count(now),
    }
