"""Back-office for harm signals (harm_signals.services): the list of flagged customers, each flag's page
with the customer's context and the history of what staff did, and the forms that act on it.

Flags are written only by the scan and the `harm_flag_*` services, so the page itself is
read-only; the forms under it post to small views that call a service (each audited) and come
back. Acting needs the change permission on harm flags (Operations and Support); anyone with
the view permission can read. Also the read-only panels the customer's own admin page shows:
their spend limits and their harm flags.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Value
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import ExclusionKind, User
from core.admin_helpers import ReadOnlyAdminMixin
from responsible_play.limits import MAX_LIMIT, MONEY, money, operator_cap, pending_limit_for
from responsible_play.models import SpendLimit
from responsible_play.services import (
    BREAK_DAYS,
    SELF_EXCLUSION_MAX_MONTHS,
    SELF_EXCLUSION_MIN_MONTHS,
)
from tickets.spending import position_of, spend_annotations, spend_position

from .models import HarmAction, HarmFlag
from .services import (
    format_value,
    harm_flag_add_note,
    harm_flag_close,
    harm_flag_impose_break,
    harm_flag_reopen,
    harm_flag_set_limit,
)

# Rows of history shown in a panel; the rest are a click away.
PANEL_ROWS = 10

# ------------------------------------- panels (also on the customer page, backoffice/admin.py)


def _when(moment) -> str:
    return f"{timezone.localtime(moment):%-d %b %Y %H:%M}"


def _limit_text(amount) -> str:
    return "no limit" if amount is None else money(amount)


def exclusion_text(user: User, now) -> str:
    if not user.exclusion_kind:
        return "None"
    label = user.get_exclusion_kind_display()
    if user.exclusion_kind == ExclusionKind.CLOSED:
        return f"{label} on {timezone.localtime(user.excluded_at):%-d %b %Y}"
    until = f"{timezone.localtime(user.excluded_until):%-d %b %Y %H:%M}"
    if user.is_excluded(now):
        return f"{label} until {until}"
    return f"None in force ({label.lower()} ended {until})"


def spend_limits_panel(user: User, now=None) -> str:
    """The customer's limits as the purchase check sees them, and every request they made."""
    now = now or timezone.now()
    position = spend_position(user, now)
    requests = SpendLimit.objects.filter(user=user)
    history = list(requests.select_related("created_by")[:PANEL_ROWS])
    in_force = next(
        (r.pk for r in history if r.cancelled_at is None and r.effective_at <= now), None
    )
    rows = []
    for request in history:
        if request.cancelled_at is not None:
            state = "Superseded before it took effect"
        elif request.effective_at > now:
            state = "Waiting for the cooling-off"
        elif request.pk == in_force:
            state = "In force"
        else:
            state = "Replaced"
        if request.created_by_id is None:
            by = "—"
        elif request.created_by_id == user.pk:
            by = "Customer"
        else:
            by = f"Staff: {request.created_by.email}"
        rows.append(
            {
                "request": request,
                "limit": _limit_text(request.monthly_limit),
                "state": state,
                "by": by,
            }
        )
    context = {
        "position": position,
        "limit": _limit_text(position.limit),
        "limited_by_cap": position.limited_by_cap,
        "personal": _limit_text(position.personal),
        "cap": _limit_text(position.cap),
        "spent": money(position.spent),
        "left": None if position.left is None else money(position.left),
        "pending": pending_limit_for(user, now),
        "rows": rows,
        "all_url": reverse("admin:responsible_play_spendlimit_changelist")
        + f"?user__id__exact={user.pk}",
        "count": requests.count(),
    }
    if context["pending"] is not None:
        context["pending_limit"] = _limit_text(context["pending"].monthly_limit)
    return render_to_string("admin/harm_signals/_spend_limits.html", context)


def harm_panel(user: User) -> str:
    """The customer's harm flags and what staff did about them, newest first."""
    flags = list(user.harm_flags.order_by("-last_seen_at", "-id")[:PANEL_ROWS])
    actions = list(
        HarmAction.objects.filter(user=user).select_related("actor", "flag")[:PANEL_ROWS]
    )
    return render_to_string(
        "admin/harm_signals/_harm_panel.html",
        {
            "flags": flags,
            "actions": actions,
            "all_url": reverse("admin:harm_signals_harmflag_changelist")
            + f"?user__id__exact={user.pk}",
        },
    )


def customer_panel(flag: HarmFlag, now=None) -> str:
    """Who the flagged customer is and where they stand, on the flag's page."""
    from tickets.models import Order

    now = now or timezone.now()
    user = flag.user
    orders = Order.objects.filter(user=user)
    return render_to_string(
        "admin/harm_signals/harmflag/_customer.html",
        {
            "customer": user,
            "user_url": reverse("admin:accounts_user_change", args=[user.pk]),
            "age": user.age(),
            "exclusion": exclusion_text(user, now),
            "excluded": user.is_excluded(now),
            "limits": spend_limits_panel(user, now),
            "recent_orders": list(orders.order_by("-created_at", "-id")[:5]),
            "orders_url": reverse("admin:tickets_order_changelist") + f"?user__id__exact={user.pk}",
            "other_flags": user.harm_flags.exclude(pk=flag.pk).count(),
            "flags_url": reverse("admin:harm_signals_harmflag_changelist")
            + f"?user__id__exact={user.pk}",
        },
    )


# ---------------------------------------------------------------- forms for the staff actions

NOTE_HELP = "Required: what was decided and why. Kept in the flag's history and the audit log."


def _note_field(label="Note", help_text=NOTE_HELP):
    return forms.CharField(
        label=label, help_text=help_text, widget=forms.Textarea(attrs={"rows": 3, "cols": 60})
    )


class NoteForm(forms.Form):
    note = _note_field(help_text="Kept in the flag's history and the audit log.")
    contacted = forms.BooleanField(
        required=False, label="This records a contact with the customer (call, e-mail or chat)"
    )


class CloseForm(forms.Form):
    outcome = forms.ChoiceField(
        label="Outcome",
        choices=[
            (HarmFlag.Status.ACTIONED, "Actioned: we did something about it"),
            (HarmFlag.Status.DISMISSED, "Dismissed: no action needed"),
        ],
        widget=forms.RadioSelect,
    )
    note = _note_field()


class ReopenForm(forms.Form):
    note = _note_field(help_text="Required: why the flag needs looking at again.")


class LimitForm(forms.Form):
    monthly_limit = forms.DecimalField(
        label="Monthly limit (£)",
        min_value=0,
        max_value=MAX_LIMIT,
        max_digits=10,
        decimal_places=2,
        help_text="£0 stops all purchases. A lower limit is in force at once; a higher one "
        "only after the cooling-off, as for the customer's own requests.",
    )
    note = _note_field()


class BreakForm(forms.Form):
    kind = forms.ChoiceField(
        label="What",
        choices=[
            (ExclusionKind.BREAK, f"A break of {BREAK_DAYS[0]} to {BREAK_DAYS[1]} days"),
            (
                ExclusionKind.SELF_EXCLUSION,
                f"Self-exclusion for {SELF_EXCLUSION_MIN_MONTHS} to "
                f"{SELF_EXCLUSION_MAX_MONTHS} months",
            ),
        ],
        widget=forms.RadioSelect,
    )
    length = forms.IntegerField(
        label="How long",
        min_value=1,
        max_value=SELF_EXCLUSION_MAX_MONTHS,
        help_text="Days for a break, months for a self-exclusion. No purchases and no "
        "marketing meanwhile; one already in force is never shortened.",
    )
    note = _note_field()


def _limit_done(flag, by, data):
    request = harm_flag_set_limit(
        flag=flag, by=by, monthly_limit=data["monthly_limit"], note=data["note"]
    )
    if request.effective_at <= timezone.now():
        return f"{flag.user}: monthly limit {money(request.monthly_limit)}, in force now."
    when = f"{timezone.localtime(request.effective_at):%-d %b %Y %H:%M}"
    return f"{flag.user}: monthly limit {money(request.monthly_limit)}, in force from {when}."


def _break_done(flag, by, data):
    user = harm_flag_impose_break(
        flag=flag, by=by, kind=data["kind"], length=data["length"], note=data["note"]
    )
    until = f"{timezone.localtime(user.excluded_until):%-d %b %Y}"
    return f"{user}: {user.get_exclusion_kind_display().lower()} until {until}."


def _close_done(flag, by, data):
    flag = harm_flag_close(flag=flag, by=by, outcome=data["outcome"], note=data["note"])
    return f"Flag closed: {flag.get_status_display().lower()}."


def _note_done(flag, by, data):
    harm_flag_add_note(flag=flag, by=by, note=data["note"], contacted=data["contacted"])
    return "Contact recorded." if data["contacted"] else "Note added."


def _reopen_done(flag, by, data):
    harm_flag_reopen(flag=flag, by=by, note=data["note"])
    return "Flag reopened."


def _is_open(flag) -> bool:
    return flag.status == HarmFlag.Status.OPEN


# name: (form, heading, button, service call returning the success message, shown when)
ACTIONS = {
    "note": (NoteForm, "Add a note", "Add note", _note_done, lambda flag: True),
    "close": (CloseForm, "Close this flag", "Close flag", _close_done, _is_open),
    "reopen": (ReopenForm, "Reopen this flag", "Reopen", _reopen_done, lambda f: not _is_open(f)),
    "limit": (LimitForm, "Set a spend limit", "Set limit", _limit_done, lambda flag: True),
    "break": (BreakForm, "Impose a break", "Impose break", _break_done, lambda flag: True),
}


def _refusal_to_form(form: forms.Form, refusal: ValidationError) -> None:
    if hasattr(refusal, "error_dict"):
        for field, errors in refusal.error_dict.items():
            form.add_error(field if field in form.fields else None, [e.message for e in errors])
    else:
        form.add_error(None, refusal.messages)


# ---------------------------------------------------------------- the admin


class HarmActionInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The flag's history: notes, contacts, actions and outcomes. Written by the services."""

    model = HarmAction
    fk_name = "flag"
    fields = ("at", "actor", "kind", "note")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "history entry"
    verbose_name_plural = "history"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(HarmFlag)
class HarmFlagAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "customer",
        "rule",
        "status",
        "detail",
        "spend_this_month",
        "first_seen",
        "last_seen",
    )
    list_filter = ("status", "rule")
    list_select_related = ("user",)
    search_fields = ("user__email", "user__first_name", "user__last_name")
    search_help_text = "The customer's e-mail or name."
    ordering = ("-last_seen_at", "-id")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "customer_link",
                    "rule",
                    "status",
                    "detail",
                    ("value_shown", "threshold_shown"),
                    ("first_seen_at", "last_seen_at"),
                    ("closed_at", "closed_by"),
                )
            },
        ),
        ("The customer", {"fields": ("customer_context",)}),
    )
    readonly_fields = (
        "customer_link",
        "rule",
        "status",
        "detail",
        "value_shown",
        "threshold_shown",
        "first_seen_at",
        "last_seen_at",
        "closed_at",
        "closed_by",
        "customer_context",
    )
    inlines = (HarmActionInline,)
    change_form_template = "admin/harm_signals/harmflag/change_form.html"

    class Media:
        css = {"all": ("css/admin-harm.css",)}

    # Read-only: flags change only through the scan and the services behind the page's forms.
    def has_act_permission(self, request) -> bool:
        return request.user.has_perm("harm_signals.change_harmflag")

    def get_queryset(self, request):
        # Each row's spend and limits come with the row (no query per customer); the
        # operator's cap is read once per page.
        queryset = super().get_queryset(request).select_related("user", "closed_by")
        return queryset.annotate(
            **spend_annotations("user_id", timezone.now()),
            operator_cap=Value(operator_cap(), output_field=MONEY),
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/act/<str:what>/",
                self.admin_site.admin_view(self.act_view),
                name="harm_signals_harmflag_act",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": "Harm signals", **(extra_context or {})})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        flag = self.get_object(request, object_id)
        forms_shown = []
        if flag is not None and self.has_act_permission(request):
            for what, (form_class, heading, button, _, shown) in ACTIONS.items():
                if shown(flag):
                    forms_shown.append(
                        {
                            "what": what,
                            "form": form_class(prefix=what),
                            "heading": heading,
                            "button": button,
                            "url": reverse("admin:harm_signals_harmflag_act", args=[flag.pk, what]),
                        }
                    )
        extra_context = {**(extra_context or {}), "harm_forms": forms_shown}
        return super().change_view(request, object_id, form_url, extra_context)

    def act_view(self, request, pk, what):
        """One staff action on a flag: its form on its own page (when the form on the flag's
        page came back with errors, or for a direct link); on success, back to the flag."""
        if what not in ACTIONS:
            raise Http404
        if not self.has_act_permission(request):
            raise PermissionDenied
        flag = get_object_or_404(HarmFlag.objects.select_related("user"), pk=pk)
        form_class, heading, button, done, _ = ACTIONS[what]
        form = form_class(request.POST if request.method == "POST" else None, prefix=what)
        change_url = reverse("admin:harm_signals_harmflag_change", args=[flag.pk])
        if request.method == "POST" and form.is_valid():
            try:
                message = done(flag, request.user, form.cleaned_data)
            except ValidationError as refusal:
                _refusal_to_form(form, refusal)
            else:
                self.message_user(request, message, messages.SUCCESS)
                return redirect(change_url)
        return TemplateResponse(
            request,
            "admin/harm_signals/harmflag/action.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": flag,
                "flag": flag,
                "title": f"{heading}: {flag.user}",
                "heading": heading,
                "button": button,
                "form": form,
                "change_url": change_url,
            },
        )

    # -- columns and fields

    @admin.display(description="customer", ordering="user__email")
    def customer(self, obj):
        name = obj.user.get_full_name()
        if not name:
            return obj.user.email
        return format_html("{}<br>{}", name, obj.user.email)

    @admin.display(description="first seen", ordering="first_seen_at")
    def first_seen(self, obj):
        return _when(obj.first_seen_at)

    @admin.display(description="last seen", ordering="last_seen_at")
    def last_seen(self, obj):
        return _when(obj.last_seen_at)

    @admin.display(description="spent this month / limit")
    def spend_this_month(self, obj):
        position = position_of(obj, obj.operator_cap)
        if position.limit is None:
            return f"{money(position.spent)} (no limit)"
        return f"{money(position.spent)} of {money(position.limit)}"

    @admin.display(description="customer")
    def customer_link(self, obj):
        name = obj.user.get_full_name()
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:accounts_user_change", args=[obj.user_id]),
            f"{name} <{obj.user.email}>" if name else obj.user.email,
        )

    @admin.display(description="value")
    def value_shown(self, obj):
        return format_value(obj.rule, obj.value)

    @admin.display(description="threshold")
    def threshold_shown(self, obj):
        return format_value(obj.rule, obj.threshold)

    @admin.display(description="where they stand")
    def customer_context(self, obj):
        return customer_panel(obj)
