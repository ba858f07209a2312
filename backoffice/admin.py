"""The customer's page in the back-office: their account (accounts.admin.UserAdmin, with its
ban and age-verification actions) plus what they did across the domains: recent tickets and
orders, spend limits and harm flags.

Registered here, in the top layer, because those panels read tickets, responsible play and
harm signals, all above accounts (docs/architecture.md §1). The model is still accounts.User,
so the URLs stay `admin:accounts_user_*`.
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from accounts.admin import IDENTITY_FIELDSETS, UserAdmin
from accounts.models import User
from harm_signals.admin import harm_panel, spend_limits_panel
from tickets.models import Order, Ticket

# Rows of a customer's tickets and orders shown on their page; the rest are a click away.
RECENT_ROWS = 10

PANELS = ("tickets_summary", "orders_summary", "limits_summary", "harm_summary")


@admin.register(User)
class CustomerAdmin(UserAdmin):
    fieldsets = (
        *IDENTITY_FIELDSETS,
        ("Tickets and orders", {"fields": ("tickets_summary", "orders_summary")}),
        ("Spend limits and harm signals", {"fields": ("limits_summary", "harm_summary")}),
    )
    readonly_fields = (*UserAdmin.readonly_fields, *PANELS)

    @admin.display(description="tickets")
    def tickets_summary(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        tickets = Ticket.objects.filter(user=obj).issued()
        recent = list(
            tickets.select_related("competition").order_by("-purchased_at", "-id")[:RECENT_ROWS]
        )
        url = reverse("admin:tickets_ticket_changelist") + f"?user__id__exact={obj.pk}"
        rows = format_html_join(
            "",
            "<li>#{} in {} — {} ({})</li>",
            (
                (t.number, t.competition.title, t.get_status_display(), t.get_source_display())
                for t in recent
            ),
        )
        return format_html('<a href="{}">All {} tickets</a><ul>{}</ul>', url, tickets.count(), rows)

    @admin.display(description="orders")
    def orders_summary(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        orders = Order.objects.filter(user=obj)
        recent = list(orders.order_by("-created_at", "-id")[:RECENT_ROWS])
        url = reverse("admin:tickets_order_changelist") + f"?user__id__exact={obj.pk}"
        rows = format_html_join(
            "",
            '<li><a href="{}">{}</a> — {} £{}</li>',
            (
                (
                    reverse("admin:tickets_order_change", args=[o.pk]),
                    o.reference,
                    o.get_status_display(),
                    o.total,
                )
                for o in recent
            ),
        )
        return format_html('<a href="{}">All {} orders</a><ul>{}</ul>', url, orders.count(), rows)

    @admin.display(description="spend limits")
    def limits_summary(self, obj):
        return spend_limits_panel(obj) if obj is not None and obj.pk else "—"

    @admin.display(description="harm flags")
    def harm_summary(self, obj):
        return harm_panel(obj) if obj is not None and obj.pk else "—"
