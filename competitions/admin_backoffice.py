"""Back-office operations on competitions beyond editing: deactivate, duplicate, cancel and
refund everyone, and the guards on deleting and on moving dates. A mixin, so the competition
admin (shared with the draw buttons) takes it with a one-line change; every operation calls a
service in `competitions.services`, which writes the audit entry in its own transaction."""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from core.admin_helpers import confirm_page, is_confirmed
from core.audit import audit_record

from .exceptions import CompetitionError
from .services import (
    DATE_FIELDS,
    competition_cancel,
    competition_change_dates,
    competition_deactivate,
    competition_duplicate,
)


class CompetitionBackofficeAdminMixin:
    backoffice_actions = ("deactivate", "duplicate", "cancel_and_refund")

    # --- deleting: only a competition nobody has a ticket in (cancel instead:
    # docs/architecture.md §2)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.tickets.exists():
            return False
        return super().has_delete_permission(request, obj)

    def delete_queryset(self, request, queryset):
        with_tickets = queryset.filter(tickets__isnull=False).distinct()
        if with_tickets.exists():
            names = ", ".join(str(c) for c in with_tickets[:5])
            self.message_user(
                request,
                f"Not deleted: {names} have tickets. Use “Cancel and refund all” instead.",
                messages.ERROR,
            )
            queryset = queryset.exclude(pk__in=with_tickets.values("pk"))
        for competition in queryset:
            audit_record(actor=request.user, action="competition.delete", obj=competition)
        super().delete_queryset(request, queryset)

    def delete_model(self, request, obj):
        if obj.tickets.exists():  # has_delete_permission already hides the button
            raise CompetitionError("A competition with tickets cannot be deleted.")
        audit_record(actor=request.user, action="competition.delete", obj=obj)
        super().delete_model(request, obj)

    # --- editing: dates through the service (refused once drawn), everything audited

    def save_model(self, request, obj, form, change):
        changed = list(form.changed_data) if change else []
        if change and any(name in changed for name in DATE_FIELDS):
            competition_change_dates(
                competition=obj,
                by=request.user,
                starts_at=obj.starts_at,
                ends_at=obj.ends_at,
                draw_at=obj.draw_at,
            )
            obj.refresh_from_db(fields=["status"])
        super().save_model(request, obj, form, change)
        others = [name for name in changed if name not in DATE_FIELDS]
        if others:
            audit_record(
                actor=request.user,
                action="competition.edit",
                obj=obj,
                before={name: str(form.initial.get(name, "")) for name in others},
                after={name: str(form.cleaned_data.get(name, "")) for name in others},
            )
        elif not change:
            audit_record(actor=request.user, action="competition.create", obj=obj)

    def save_formset(self, request, form, formset, change):
        """Images, answers and prizes edited on the competition's page are audited too."""
        super().save_formset(request, form, formset, change)
        changes = {
            "added": [str(obj) for obj in formset.new_objects],
            "changed": [f"{obj}: {', '.join(fields)}" for obj, fields in formset.changed_objects],
            "deleted": [str(obj) for obj in formset.deleted_objects],
        }
        if change and any(changes.values()):
            audit_record(
                actor=request.user,
                action=f"competition.edit_{formset.model._meta.model_name}",
                obj=form.instance,
                after=changes,
            )

    # --- actions

    def _each(self, request, queryset, service, verb: str, **kwargs):
        done = []
        for competition in queryset.order_by("id"):
            try:
                done.append(service(competition=competition, by=request.user, **kwargs))
            except CompetitionError as refusal:
                self.message_user(request, f"“{competition}”: {refusal}", messages.ERROR)
        if done:
            self.message_user(request, f"{verb} {len(done)} competition(s).", messages.SUCCESS)
        return done

    @admin.action(
        description="Deactivate (back to draft; only without tickets)", permissions=["change"]
    )
    def deactivate(self, request, queryset):
        if not is_confirmed(request):
            return confirm_page(
                self,
                request,
                queryset,
                action="deactivate",
                title="Take these competitions off sale, back to draft?",
                items=[f"{c.title} — {c.status}" for c in queryset.order_by("id")],
                summary="Their draw seed is discarded: activating again commits to a new one. "
                "A competition with tickets is refused (cancel and refund it instead).",
                button="Deactivate",
            )
        self._each(request, queryset, competition_deactivate, "Deactivated")
        return None

    @admin.action(description="Duplicate as a new draft", permissions=["add"])
    def duplicate(self, request, queryset):
        for copy in self._each(request, queryset, competition_duplicate, "Duplicated"):
            url = reverse("admin:competitions_competition_change", args=[copy.pk])
            self.message_user(request, format_html('New draft: <a href="{}">{}</a>', url, copy))

    @admin.action(description="Cancel and refund all tickets", permissions=["change"])
    def cancel_and_refund(self, request, queryset):
        if not is_confirmed(request):
            return confirm_page(
                self,
                request,
                queryset,
                action="cancel_and_refund",
                title="Cancel these competitions and refund every ticket?",
                items=[
                    f"{c.title} — {c.tickets_sold} tickets sold, status {c.status}"
                    for c in queryset.order_by("id")
                ],
                summary="Every paid ticket is refunded to the customer's card and the "
                "competition closes for good. This cannot be undone.",
                warnings=[
                    f"{c.title} is {c.status}: it will be refused."
                    for c in queryset.filter(status__in=("drawn", "cancelled"))
                ],
                reason_label="Reason (shown in the audit log and on the refunds)",
                button="Cancel and refund",
            )
        self._each(
            request,
            queryset,
            competition_cancel,
            "Cancelled and refunded",
            reason=request.POST.get("reason", ""),
        )
        return None
