"""Back-office for orders and tickets: a read-only view of the money and the entries.

Orders and tickets are written only by the ticket services, inside the transaction that keeps
`Competition.tickets_sold`, the per-customer limit and the payment in step. Editing or deleting
a row here would bypass all of that, so staff can look but not touch; refunds and postal
entries are service calls.
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from .models import Order, OrderLine, Ticket

# Ticket numbers are PositiveIntegerField: a longer run of digits cannot be one.
MAX_TICKET_NUMBER = 2**31 - 1


class ReadOnlyAdminMixin:
    """Viewable by staff with the view permission; never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OrderLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderLine
    fields = (
        "competition",
        "quantity",
        "chosen_numbers",
        "answer",
        "answered_correctly",
        "unit_price",
        "line_total",
    )
    readonly_fields = fields
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("competition", "answer")

    @admin.display(description="correct", boolean=True)
    def answered_correctly(self, obj):
        return obj.answered_correctly


@admin.register(Order)
class OrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    inlines = (OrderLineInline,)
    fieldsets = (
        (None, {"fields": ("reference", "user", "status", "tickets")}),
        ("Money", {"fields": ("currency", "total", "amount_refunded")}),
        (
            "Payment",
            {"fields": ("stripe_checkout_session_id", "stripe_payment_intent_id", "paid_at")},
        ),
        ("Dates", {"fields": ("reserved_until", "created_at", "updated_at")}),
    )
    readonly_fields = (
        "reference",
        "user",
        "status",
        "tickets",
        "currency",
        "total",
        "amount_refunded",
        "stripe_checkout_session_id",
        "stripe_payment_intent_id",
        "paid_at",
        "reserved_until",
        "created_at",
        "updated_at",
    )
    raw_id_fields = ("user",)
    list_display = ("reference", "user", "status", "total", "created_at", "paid_at")
    list_filter = ("status", "currency")
    list_select_related = ("user",)
    search_fields = (
        "reference",
        "user__email",
        "stripe_checkout_session_id",
        "stripe_payment_intent_id",
    )
    ordering = ("-created_at", "-id")
    show_full_result_count = False  # a big table: skip the second COUNT(*) per page

    @admin.display(description="tickets")
    def tickets(self, obj):
        url = reverse("admin:tickets_ticket_changelist") + f"?order__id__exact={obj.pk}"
        return format_html('<a href="{}">{} tickets</a>', url, obj.tickets.count())


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    fields = (
        "competition",
        "number",
        "user",
        "order",
        "status",
        "source",
        "purchased_at",
        "refunded_at",
    )
    readonly_fields = fields
    raw_id_fields = ("user", "order", "competition")
    list_display = ("number", "competition", "user", "status", "source", "order", "purchased_at")
    list_filter = ("status", "source", "competition")
    list_select_related = ("competition", "user", "order")
    search_fields = ("user__email", "user__first_name", "user__last_name", "order__reference")
    search_help_text = "A ticket number, or the customer's e-mail or name, or an order reference."
    ordering = ("-purchased_at", "-id")
    show_full_result_count = False

    def get_search_results(self, request, queryset, search_term):
        """Digits also find the ticket with exactly that number (within the current filters)."""
        unsearched = queryset
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term.isdigit() and 1 <= int(term) <= MAX_TICKET_NUMBER:
            queryset |= unsearched.filter(number=int(term))
        return queryset, may_have_duplicates
