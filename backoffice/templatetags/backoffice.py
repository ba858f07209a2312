from django import template
from django.urls import reverse

from ..dashboard import dashboard_figures
from ..views import REPORT_PERMISSION

register = template.Library()


@register.inclusion_tag("admin/backoffice/dashboard.html", takes_context=True)
def staff_dashboard(context):
    """The figures at the top of the admin index, for staff who may see the rows behind them."""
    request = context["request"]
    if not request.user.has_perm("tickets.view_order"):
        return {"show": False}
    return {
        "show": True,
        "report": request.user.has_perm(REPORT_PERMISSION),
        **dashboard_figures(),
        "links": {
            "orders": reverse("admin:tickets_order_changelist"),
            "competitions": reverse("admin:competitions_competition_changelist"),
            "winners": reverse("admin:winners_winner_changelist")
            + "?verification_status__exact=pending",
            "notifications": reverse("admin:notifications_notification_changelist")
            + "?status__exact=failed",
            "complaints": reverse("admin:complaints_complaint_changelist") + "?overdue=any",
        },
    }
