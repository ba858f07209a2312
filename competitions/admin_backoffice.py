"""Back-office operations on competitions beyond editing: deactivate, duplicate, delete, and
saving edits through the services. A mixin, so the competition admin takes it with a
one-line change; every operation calls a service in `competitions.services`, which checks
the rules and writes the audit entry in its own transaction. (Cancelling and refunding
everyone is the tickets app's: `tickets.admin_competition`.)"""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from core.admin_helpers import confirm_page, is_confirmed

from .exceptions import CompetitionError
from .services import (
    competition_create,
    competition_deactivate,
    competition_delete,
    competition_duplicate,
    competition_edit_parts,
    competition_update,
)


class CompetitionBackofficeAdminMixin:
    backoffice_actions = ("deactivate", "duplicate")

    # --- deleting: only a competition nobody has a ticket in (cancel instead:
    # docs/architecture.md §2)

    def delete_queryset(self, request, queryset):
        refused = []
        for competition in queryset.order_by("id"):
            try:
                competition_delete(competition=competition, by=request.user)
            except CompetitionError as refusal:
                refused.append(str(refusal))
        if refused:
            self.message_user(request, "Not deleted: " + " ".join(refused), messages.ERROR)

    def delete_model(self, request, obj):
        competition_delete(competition=obj, by=request.user)

    # --- editing through the services (locked fields refused, everything audited)

    def save_model(self, request, obj, form, change):
        if change:
            competition_update(competition=obj, by=request.user, fields=form.changed_data)
            obj.refresh_from_db()
        else:
            competition_create(competition=obj, by=request.user)

    def save_formset(self, request, form, formset, change):
        """Images, answers and prizes edited on the competition's page: saved and audited by
        the service, which refuses parts the competition's status fixes."""
        if not change:
            super().save_formset(request, form, formset, change)
            return

        def save():
            super(CompetitionBackofficeAdminMixin, self).save_formset(
                request, form, formset, change
            )
            return {
                "added": [str(obj) for obj in formset.new_objects],
                "changed": [
                    f"{obj}: {', '.join(fields)}" for obj, fields in formset.changed_objects
                ],
                "deleted": [str(obj) for obj in formset.deleted_objects],
            }

        competition_edit_parts(
            competition=form.instance,
            by=request.user,
            part=formset.model._meta.model_name,
            save=save,
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
