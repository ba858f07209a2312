"""Back-office for orders and tickets: a read-only view of the money and the entries.

Orders and tickets are written only by the ticket services, inside the transaction that keeps
`Competition.tickets_sold`, the per-customer limit and the payment in step. Editing or deleting
a row here would bypass all of that, so staff can look but not touch; refunds and postal
entries are service calls.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import ngettext

from accounts.models import User
from competitions.lifecycle import Status
from competitions.models import Competition
from core.admin_helpers import ReadOnlyAdminMixin, confirm_page, is_confirmed

# Imported for what they register: discount codes, signed receipts and their keys.
from . import admin_discounts, admin_receipts  # noqa: F401
from .exceptions import TicketError
from .export import tickets_csv
from .models import (
    CancellationJob,
    DiscountRedemption,
    Order,
    OrderLine,
    PaymentEvent,
    PostalEntry,
    Receipt,
    Refund,
    Ticket,
)
from .services import postal_entry_add, refund_plan, refund_retry, tickets_refund

# Ticket numbers are PositiveIntegerField: a longer run of digits cannot be one.
MAX_TICKET_NUMBER = 2**31 - 1


class OrderLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderLine
    fields = (
        "competition",
        "quantity",
        "chosen_numbers",
        "answer",
        "answered_correctly",
        "unit_price",
        "bundle_discount",
        "code_discount",
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
        (None, {"fields": ("reference", "user", "status", "tickets", "signed_receipt")}),
        ("Money", {"fields": ("currency", "total", "amount_refunded", "discount_code")}),
        (
            "Payment",
            {
                "fields": (
                    "stripe_checkout_session_id",
                    "stripe_payment_intent_id",
                    "card_funding",
                    "paid_at",
                )
            },
        ),
        ("Dates", {"fields": ("reserved_until", "created_at", "updated_at")}),
    )
    readonly_fields = (
        "reference",
        "user",
        "status",
        "tickets",
        "signed_receipt",
        "currency",
        "total",
        "amount_refunded",
        "discount_code",
        "stripe_checkout_session_id",
        "stripe_payment_intent_id",
        "card_funding",
        "paid_at",
        "reserved_until",
        "created_at",
        "updated_at",
    )
    raw_id_fields = ("user",)
    list_display = ("reference", "user", "status", "total", "created_at", "paid_at")
    list_filter = ("status", "card_funding", "currency")
    list_select_related = ("user",)
    search_fields = (
        "reference",
        "user__email",
        "stripe_checkout_session_id",
        "stripe_payment_intent_id",
    )
    ordering = ("-created_at", "-id")
    show_full_result_count = False  # a big table: skip the second COUNT(*) per page

    @admin.display(description="discount code")
    def discount_code(self, obj):
        redemption = DiscountRedemption.objects.filter(order=obj).select_related("code").first()
        if redemption is None:
            return "—"
        url = reverse("admin:tickets_discountcode_change", args=[redemption.code_id])
        state = (
            f", given back {redemption.released_at:%d %b %Y %H:%M}"
            if redemption.released_at
            else ""
        )
        return format_html(
            '<a href="{}">{}</a>: −£{}{}', url, redemption.code, redemption.amount, state
        )

    @admin.display(description="signed receipt")
    def signed_receipt(self, obj):
        receipt_pk = Receipt.objects.filter(order=obj).values_list("pk", flat=True).first()
        if receipt_pk is None and obj.status in Order.PAID_STATES:
            return (
                "None: its tickets were refunded before one was issued, or it is still to come "
                "(the minute's sweep issues it; manage.py issue_receipts does so now)."
            )
        if receipt_pk is None:
            return "None: an order gets one when it is paid."
        url = reverse("admin:tickets_receipt_change", args=[receipt_pk])
        return format_html('<a href="{}">Receipt {}</a>', url, obj.reference)

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
    actions = ("refund",)
    change_list_template = "admin/tickets/ticket/change_list.html"

    def has_refund_permission(self, request):
        return request.user.has_perm("tickets.refund_ticket")

    def has_postal_permission(self, request):
        return request.user.has_perm("tickets.add_ticket")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("export.csv", view(self.export_csv), name="tickets_ticket_export"),
            path("postal/", view(self.add_postal_entries), name="tickets_ticket_postal"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_add_postal": self.has_postal_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def export_csv(self, request):
        """The tickets the changelist shows (its filters and search), streamed as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        queryset = self.get_changelist_instance(request).get_queryset(request)
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response = StreamingHttpResponse(tickets_csv(queryset), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="tickets-{stamp}.csv"'
        return response

    @admin.action(description="Refund selected tickets", permissions=["refund"])
    def refund(self, request, queryset):
        tickets = queryset.select_related("competition", "order", "user").order_by(
            "order_id", "number"
        )
        if not is_confirmed(request):
            plan = refund_plan(tickets=tickets)
            return confirm_page(
                self,
                request,
                queryset,
                action="refund",
                title="Refund these tickets?",
                items=[
                    f"#{t.number} in {t.competition} — {t.user.email}, order {t.order}"
                    for t in plan.refundable
                ],
                summary=f"{len(plan.refundable)} tickets, £{plan.amount} back to the customers' "
                "cards."
                if plan.refundable
                else "Nothing here can be refunded.",
                warnings=[f"Not refundable: {why}" for why in plan.refused]
                + [f"Instant win: {line}" for line in plan.instant_wins],
                reason_label="Note for the refund (shown in the audit log)",
                button="Refund",
            )
        result = tickets_refund(
            tickets=tickets, by=request.user, note=request.POST.get("reason", "")
        )
        for why in result.refused:
            self.message_user(request, f"Not refunded: {why}", messages.ERROR)
        for warning in result.prizes_delivered:
            self.message_user(request, warning, messages.WARNING)
        if result.tickets:
            self.message_user(
                request,
                ngettext("Refunded %d ticket.", "Refunded %d tickets.", result.tickets)
                % result.tickets,
                messages.SUCCESS,
            )
        return None

    def add_postal_entries(self, request):
        """Free postal entries: staff type in who and how many; the sale rules still apply."""
        if not self.has_postal_permission(request):
            raise PermissionDenied
        form = PostalEntryForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            user, competition = form.cleaned_data["user"], form.cleaned_data["competition"]
            quantity = form.cleaned_data["quantity"]
            try:
                tickets = postal_entry_add(
                    user=user,
                    competition=competition,
                    quantity=quantity,
                    by=request.user,
                    note=form.cleaned_data["note"],
                    received_on=form.cleaned_data["received_on"],
                )
            except TicketError as refusal:
                form.add_error(None, str(refusal))
            else:
                numbers = ", ".join(f"#{t.number}" for t in tickets)
                self.message_user(
                    request,
                    f"Added {len(tickets)} free postal entries for {user.email} in "
                    f"“{competition}”: {numbers}.",
                    messages.SUCCESS,
                )
                return redirect(
                    reverse("admin:tickets_ticket_changelist")
                    + f"?competition__id__exact={competition.pk}&q={user.email}"
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Add free postal entries",
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "admin/tickets/ticket/postal.html", context)

    def get_search_results(self, request, queryset, search_term):
        """Digits also find the ticket with exactly that number (within the current filters)."""
        unsearched = queryset
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term.isdigit() and 1 <= int(term) <= MAX_TICKET_NUMBER:
            queryset |= unsearched.filter(number=int(term))
        return queryset, may_have_duplicates


class PostalEntryForm(forms.Form):
    email = forms.EmailField(label="Customer e-mail")
    competition = forms.ModelChoiceField(
        queryset=Competition.objects.exclude(
            status__in=(Status.DRAFT, Status.DRAWN, Status.CANCELLED)
        ).order_by("ends_at")
    )
    quantity = forms.IntegerField(min_value=1, max_value=1000, initial=1)
    received_on = forms.DateField(
        label="Postcard arrived on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Empty: today. Shown, as time to enter postal entries, on How we comply.",
    )
    note = forms.CharField(required=False, max_length=255)

    def clean_received_on(self):
        received_on = self.cleaned_data.get("received_on") or timezone.localdate()
        if received_on > timezone.localdate():
            raise forms.ValidationError("A postcard can’t arrive in the future.")
        return received_on

    def clean(self):
        cleaned = super().clean()
        email = cleaned.get("email")
        if email:
            try:
                cleaned["user"] = User.objects.get(email__iexact=email.strip())
            except User.DoesNotExist:
                self.add_error("email", "No customer has that e-mail address.")
        return cleaned


@admin.register(PaymentEvent)
class PaymentEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("stripe_event_id", "type", "order", "received_at", "processed_at", "outcome")
    list_filter = ("type", ("processed_at", admin.EmptyFieldListFilter))
    list_select_related = ("order",)
    search_fields = ("stripe_event_id", "order__reference", "outcome")
    fields = (
        "stripe_event_id",
        "type",
        "order",
        "payload",
        "received_at",
        "processed_at",
        "outcome",
    )
    readonly_fields = fields
    ordering = ("-received_at", "-id")
    show_full_result_count = False


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "order",
        "amount",
        "currency",
        "reason",
        "status",
        "attempts",
        "created_by",
        "created_at",
    )
    list_filter = ("status", "reason")
    list_select_related = ("order", "created_by")
    search_fields = ("order__reference", "provider_refund_id", "order__user__email")
    fields = (
        "order",
        "amount",
        "currency",
        "reason",
        "note",
        "status",
        "provider_refund_id",
        "failure_message",
        "attempts",
        "next_attempt_at",
        "claimed_at",
        "created_by",
        "created_at",
        "completed_at",
    )
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    actions = ("retry",)

    def has_refund_permission(self, request):
        return request.user.has_perm("tickets.refund_ticket")

    @admin.action(description="Retry failed refunds", permissions=["refund"])
    def retry(self, request, queryset):
        retried = 0
        for refund in queryset.filter(status=Refund.Status.FAILED):
            refund_retry(refund=refund, by=request.user)
            retried += 1
        self.message_user(request, f"Retried {retried} failed refund(s).")


@admin.register(CancellationJob)
class CancellationJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Cancelled competitions being refunded in the background (tickets.cancellation)."""

    list_display = ("competition", "status", "progress", "started_by", "started_at", "finished_at")
    list_filter = ("status",)
    list_select_related = ("competition", "started_by")
    search_fields = ("competition__title", "competition__slug")
    fields = (
        "competition",
        "reason",
        "status",
        "progress",
        "orders_total",
        "orders_refunded",
        "orders_failed",
        "failures",
        "last_order_id",
        "started_by",
        "started_at",
        "updated_at",
        "finished_at",
    )
    readonly_fields = fields
    ordering = ("-started_at", "-id")

    @admin.display(description="progress")
    def progress(self, obj):
        return obj.progress


@admin.register(PostalEntry)
class PostalEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Postal entries as staff recorded them (added from Tickets, "Add free postal entries")."""

    list_display = ("competition", "user", "quantity", "received_on", "recorded_at", "recorded_by")
    list_filter = (("received_on", admin.EmptyFieldListFilter), "competition")
    list_select_related = ("competition", "user", "recorded_by")
    search_fields = ("user__email", "competition__title")
    fields = (
        "competition",
        "user",
        "quantity",
        "numbers",
        "received_on",
        "recorded_at",
        "recorded_by",
        "note",
    )
    readonly_fields = fields
    ordering = ("-recorded_at", "-id")
