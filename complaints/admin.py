"""Back-office for complaints: the list with response times and what is overdue, and each
complaint's page with its history and the workflow steps (respond, note, resolve, escalate,
reopen, assign to me).

The complaint itself is read-only here: every change is a step of complaints.services, which
writes the history event and the audit entry, and e-mails the customer where the step says so.
Handling complaints needs the "change complaint" permission (Operations and Support)."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode

from complaints import services as complaints
from core.admin_helpers import ReadOnlyAdminMixin

from .forms import EscalateForm, NoteForm, ReopenForm, ResolveForm, RespondForm
from .models import Complaint, ComplaintEvent

Status = Complaint.Status


class ComplaintEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ComplaintEvent
    verbose_name = "history entry"
    verbose_name_plural = "history (replies are what the customer sees; notes stay internal)"
    fields = ("at", "kind", "actor", "status_change", "message")
    readonly_fields = fields
    ordering = ("at", "id")
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")

    @admin.display(description="status")
    def status_change(self, obj):
        if not obj.status_to:
            return "—"
        if not obj.status_from:
            return obj.get_status_to_display()
        return f"{obj.get_status_from_display()} → {obj.get_status_to_display()}"


class OverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [
            ("response", "For a first response"),
            ("resolution", "For resolution"),
            ("any", "Either"),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        response, resolution = (
            complaints.overdue_for_response_q(now),
            complaints.overdue_for_resolution_q(now),
        )
        return {
            "response": lambda: queryset.filter(response),
            "resolution": lambda: queryset.filter(resolution),
            "any": lambda: queryset.filter(response | resolution),
        }.get(self.value(), lambda: queryset)()


class AssignedFilter(admin.SimpleListFilter):
    title = "assigned to"
    parameter_name = "assigned"

    def lookups(self, request, model_admin):
        return [("me", "Me"), ("nobody", "Nobody")]

    def queryset(self, request, queryset):
        if self.value() == "me":
            return queryset.filter(assigned_to=request.user)
        if self.value() == "nobody":
            return queryset.filter(assigned_to__isnull=True)
        return queryset


# The workflow's pages: (step, form, page title, button, success message).
STEPS = {
    "respond": (RespondForm, "Reply to the customer", "Send reply", "Reply sent to {email}."),
    "note": (NoteForm, "Add an internal note", "Add note", "Note added."),
    "resolve": (
        ResolveForm,
        "Resolve with a final response",
        "Send final response and resolve",
        "Resolved; final response sent to {email}.",
    ),
    "escalate": (
        EscalateForm,
        "Escalate the complaint",
        "Escalate and tell the customer",
        "Escalated; {email} has been told.",
    ),
    "reopen": (ReopenForm, "Reopen the complaint", "Reopen", "Reopened."),
}


def _short(moment) -> str:
    """A time that fits a list column: '25 Nov 2026 18:03', UK time."""
    return format_html(
        '<span class="fd-nowrap">{}</span>',
        timezone.localtime(moment).strftime("%-d %b %Y %H:%M"),
    )


def _run_step(step: str, complaint: Complaint, by, data: dict) -> Complaint:
    """Translate a workflow form into its service call."""
    if step == "respond":
        return complaints.complaint_respond(complaint=complaint, by=by, message=data["message"])
    if step == "note":
        return complaints.complaint_add_note(complaint=complaint, by=by, message=data["message"])
    if step == "resolve":
        return complaints.complaint_resolve(complaint=complaint, by=by, message=data["message"])
    if step == "escalate":
        return complaints.complaint_escalate(
            complaint=complaint, by=by, to=data["to"], message=data["message"]
        )
    return complaints.complaint_reopen(complaint=complaint, by=by, reason=data["message"])


@admin.register(Complaint)
class ComplaintAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    inlines = (ComplaintEventInline,)
    change_list_template = "admin/complaints/complaint/change_list.html"
    change_form_template = "admin/complaints/complaint/change_form.html"
    # What decides the next action first; the rest can scroll on a narrow screen.
    list_display = (
        "reference_column",
        "status",
        "overdue",
        "received",
        "response_due",
        "time_to_first_response",
        "customer",
        "category",
        "assigned_to",
    )
    list_display_links = ("reference_column",)
    list_filter = ("status", "category", OverdueFilter, AssignedFilter)
    list_select_related = ("user", "assigned_to")
    search_fields = ("reference", "email", "order_reference", "name")
    search_help_text = (
        "A complaint reference, the customer's e-mail or name, or an order reference."
    )
    raw_id_fields = ("user", "competition", "assigned_to")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "reference",
                    "status",
                    "customer_details",
                    "category",
                    "competition",
                    "order",
                    "message",
                )
            },
        ),
        (
            "Handling",
            {
                "fields": (
                    "assigned_to",
                    "created_at",
                    ("response_due_at", "first_response_at", "time_to_first_response"),
                    ("resolution_due_at", "resolved_at", "time_to_resolution"),
                    "escalated_at",
                    "overdue",
                )
            },
        ),
    )
    readonly_fields = (
        "reference",
        "status",
        "customer_details",
        "category",
        "competition",
        "order",
        "message",
        "assigned_to",
        "created_at",
        "response_due_at",
        "first_response_at",
        "time_to_first_response",
        "resolution_due_at",
        "resolved_at",
        "time_to_resolution",
        "escalated_at",
        "overdue",
    )

    # Read-only: complaints arrive from customers and change only through the workflow's steps.
    def can_handle(self, request) -> bool:
        return request.user.has_perm("complaints.change_complaint")

    def get_queryset(self, request):
        return complaints.with_response_time(super().get_queryset(request))

    # -- columns and fields

    @admin.display(description="reference", ordering="reference")
    def reference_column(self, obj):
        return format_html('<span class="fd-nowrap">{}</span>', obj.reference)

    @admin.display(description="received", ordering="created_at")
    def received(self, obj):
        return _short(obj.created_at)

    @admin.display(description="response due", ordering="response_due_at")
    def response_due(self, obj):
        return _short(obj.response_due_at)

    @admin.display(description="customer", ordering="email")
    def customer(self, obj):
        return format_html("{}<br><small>{}</small>", obj.name, obj.email)

    @admin.display(description="customer")
    def customer_details(self, obj):
        if obj.user_id is None:
            return format_html("{} &lt;{}&gt; (not logged in)", obj.name, obj.email)
        return format_html(
            '{} &lt;{}&gt; · account <a href="{}">{}</a>',
            obj.name,
            obj.email,
            reverse("admin:accounts_user_change", args=[obj.user_id]),
            obj.user.email,
        )

    @admin.display(description="order")
    def order(self, obj):
        if not obj.order_reference:
            return "—"
        url = (
            reverse("admin:tickets_order_changelist") + "?" + urlencode({"q": obj.order_reference})
        )
        return format_html('<a href="{}">{}</a>', url, obj.order_reference)

    @admin.display(description="time to first response", ordering="response_time")
    def time_to_first_response(self, obj):
        if obj.first_response_at is None:
            return "none yet"
        return complaints.format_duration(obj.first_response_at - obj.created_at)

    @admin.display(description="time to resolution")
    def time_to_resolution(self, obj):
        if obj.resolved_at is None:
            return "—"
        return complaints.format_duration(obj.resolved_at - obj.created_at)

    @admin.display(description="overdue")
    def overdue(self, obj):
        now = timezone.now()
        late = [
            what
            for what, is_late in (
                ("response", complaints.is_overdue_for_response(obj, now)),
                ("resolution", complaints.is_overdue_for_resolution(obj, now)),
            )
            if is_late
        ]
        if not late:
            return "—"
        return format_html(
            '<strong class="fd-overdue">{} overdue</strong>',
            " and ".join(late).capitalize(),
        )

    # -- pages

    def changelist_view(self, request, extra_context=None):
        figures = complaints.complaint_figures()
        changelist = reverse("admin:complaints_complaint_changelist")
        extra_context = {
            **(extra_context or {}),
            "figures": figures,
            "timing": [
                (
                    label,
                    timing.count,
                    complaints.format_duration(timing.average),
                    complaints.format_duration(timing.median),
                    timing.within_target,
                )
                for label, timing in (
                    ("First response", figures["response"]),
                    ("Resolution", figures["resolution"]),
                )
            ],
            "overdue_links": {
                key: f"{changelist}?overdue={key}" for key in ("response", "resolution", "any")
            },
        }
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        complaint = self.get_object(request, object_id)
        workflow = []
        if complaint is not None and self.can_handle(request):
            allowed = complaints.complaint_steps(complaint)
            workflow = [
                (reverse(f"admin:complaints_complaint_{step}", args=[complaint.pk]), label)
                for step, label in (
                    ("respond", "Respond"),
                    ("note", "Add note"),
                    ("resolve", "Resolve"),
                    ("escalate", "Escalate"),
                    ("reopen", "Reopen"),
                )
                if step == "note" or step in allowed
            ]
        extra_context = {
            **(extra_context or {}),
            "workflow": workflow,
            "can_assign": bool(workflow)
            and complaint is not None
            and complaint.assigned_to_id != request.user.pk,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            *(
                path(
                    f"<int:pk>/{step}/",
                    view(self._step_view(step)),
                    name=f"complaints_complaint_{step}",
                )
                for step in STEPS
            ),
            path("<int:pk>/assign/", view(self.assign_view), name="complaints_complaint_assign"),
            *super().get_urls(),
        ]

    def _target(self, request, pk) -> Complaint:
        if not self.can_handle(request):
            raise PermissionDenied
        return get_object_or_404(Complaint.objects.select_related("user", "assigned_to"), pk=pk)

    def _back(self, complaint):
        return HttpResponseRedirect(
            reverse("admin:complaints_complaint_change", args=[complaint.pk])
        )

    def _step_view(self, step: str):
        form_class, title, button, done = STEPS[step]

        def step_view(request, pk):
            complaint = self._target(request, pk)
            form = form_class(request.POST if request.method == "POST" else None)
            if request.method == "POST" and form.is_valid():
                try:
                    complaint = _run_step(step, complaint, request.user, form.cleaned_data)
                except complaints.ComplaintError as refusal:
                    self.message_user(request, str(refusal), level=messages.ERROR)
                    return self._back(complaint)
                self.message_user(
                    request,
                    f"{complaint.reference}: " + done.format(email=complaint.email),
                    level=messages.SUCCESS,
                )
                return self._back(complaint)
            return TemplateResponse(
                request,
                "admin/complaints/complaint/step.html",
                {
                    **self.admin_site.each_context(request),
                    "opts": self.model._meta,
                    "original": complaint,
                    "complaint": complaint,
                    "events": complaint.events.select_related("actor").order_by("at", "id"),
                    "change_url": reverse("admin:complaints_complaint_change", args=[complaint.pk]),
                    "title": f"{title}: {complaint.reference}",
                    "step": step,
                    "form": form,
                    "button": button,
                },
            )

        return step_view

    def assign_view(self, request, pk):
        complaint = self._target(request, pk)
        if request.method == "POST":
            try:
                complaint = complaints.complaint_assign(
                    complaint=complaint, to=request.user, by=request.user
                )
            except complaints.ComplaintError as refusal:
                self.message_user(request, str(refusal), level=messages.ERROR)
            else:
                self.message_user(
                    request, f"{complaint.reference} is assigned to you.", level=messages.SUCCESS
                )
        return self._back(complaint)
