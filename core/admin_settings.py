"""Back-office: the operator's responsible-play settings, one row edited in place.

The list page goes straight to the row; nothing can be added or deleted. Saving goes through
core.operator.operator_settings_update (checked, audited). Superusers and the Operations
group change the settings; other staff with the view permission (Support) may only look."""

from django import forms
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html

from .models import AuditEntry, OperatorSettings
from .operator import (
    EDITABLE_FIELDS,
    operator_settings_check,
    operator_settings_may_change,
    operator_settings_update,
)


class OperatorSettingsForm(forms.ModelForm):
    class Meta:
        model = OperatorSettings
        fields = EDITABLE_FIELDS

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        # The service's own checks, so its messages appear beside the fields they concern.
        try:
            operator_settings_check({name: cleaned.get(name) for name in EDITABLE_FIELDS})
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                for message in messages:
                    self.add_error(field, message)
        return cleaned


@admin.register(OperatorSettings)
class OperatorSettingsAdmin(admin.ModelAdmin):
    form = OperatorSettingsForm
    fieldsets = (
        (
            "Spending",
            {
                "description": "Customers’ own limits apply as well; the lower limit wins.",
                "fields": (
                    "monthly_spend_cap",
                    "limit_cooling_off_hours",
                    "credit_card_monthly_cap",
                ),
            },
        ),
        ("Age verification", {"fields": ("require_age_verification",)}),
        (
            "Competitions",
            {
                "fields": (
                    "min_open_clear_days",
                    "skill_warning_wrong_percent",
                    "skill_warning_min_answers",
                )
            },
        ),
        (
            "Harm monitoring",
            {
                "description": "A customer who reaches any of these is flagged for staff to "
                "review.",
                "fields": (
                    "harm_entries_per_day",
                    "harm_spend_share_percent",
                    "harm_limit_raises",
                    "harm_declined_payments",
                ),
            },
        ),
        (
            "Complaints",
            {"fields": ("complaint_response_days", "complaint_resolution_days")},
        ),
        ("Changes", {"fields": ("updated_at", "updated_by", "audit_trail")}),
    )
    readonly_fields = ("updated_at", "updated_by", "audit_trail")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return operator_settings_may_change(request.user)

    def get_actions(self, request):
        return {}

    def changelist_view(self, request, extra_context=None):
        """There is one row: show it."""
        if not self.has_view_or_change_permission(request):
            return super().changelist_view(request, extra_context)  # the usual 403
        row = OperatorSettings.ensure()
        return redirect(reverse("admin:core_operatorsettings_change", args=[row.pk]))

    def get_object(self, request, object_id, from_field=None):
        if str(object_id) == "1":
            OperatorSettings.ensure()  # first visit: create it from the environment defaults
        return super().get_object(request, object_id, from_field)

    def save_model(self, request, obj, form, change):
        operator_settings_update(
            by=request.user, **{name: form.cleaned_data[name] for name in EDITABLE_FIELDS}
        )
        obj.refresh_from_db()

    def response_change(self, request, obj):
        # Back to the settings, not to a list that only leads here again.
        response = super().response_change(request, obj)
        if response.status_code == 302 and "_continue" not in request.POST:
            return redirect(request.path)
        return response

    @admin.display(description="record of changes")
    def audit_trail(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        content_type = ContentType.objects.get_for_model(OperatorSettings)
        url = (
            reverse("admin:core_auditentry_changelist")
            + f"?content_type__id__exact={content_type.pk}&object_id={obj.pk}"
        )
        count = AuditEntry.objects.filter(content_type=content_type, object_id=str(obj.pk)).count()
        plural = "" if count == 1 else "s"
        return format_html('<a href="{}">{} change{} in the audit log</a>', url, count, plural)
