"""Back-office for draws: the record of how each winner was chosen, open to view, never edited.

Draws are made only by `draws.services.draw_perform` (scheduled, admin button or command);
an edited or deleted draw or log entry would break the public verification of the result.
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from tickets.admin import ReadOnlyAdminMixin

from .models import Draw, DrawLogEntry


class DrawLogInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = DrawLogEntry
    fields = ("at", "action", "actor", "message", "data")
    readonly_fields = fields
    ordering = ("at", "id")
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(Draw)
class DrawAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    inlines = (DrawLogInline,)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "competition",
                    "mode",
                    "status",
                    "performed_at",
                    "performed_by",
                    "competition_log",
                )
            },
        ),
        (
            "Result",
            {"fields": ("entry_count", "winning_index", "winning_ticket", "manual_reason")},
        ),
        (
            "Verification data",
            {"fields": ("seed_commitment", "seed", "ledger_hash", "entropy")},
        ),
    )
    readonly_fields = (
        "competition",
        "mode",
        "status",
        "performed_at",
        "performed_by",
        "entry_count",
        "winning_index",
        "winning_ticket",
        "manual_reason",
        "seed_commitment",
        "seed",
        "ledger_hash",
        "entropy",
        "competition_log",
    )
    list_display = (
        "competition",
        "mode",
        "status",
        "performed_at",
        "performed_by",
        "entry_count",
        "winning_number",
    )
    list_filter = ("mode", "status")
    list_select_related = ("competition", "performed_by", "winning_ticket")
    search_fields = ("competition__title", "competition__slug", "ledger_hash")
    ordering = ("-performed_at", "-id")
    date_hierarchy = "performed_at"

    @admin.display(description="draw log")
    def competition_log(self, obj):
        # Steps before the draw row exists (seed commitment, ledger freeze) belong to the
        # competition, not to this draw, so the inline below cannot show them.
        url = reverse("admin:draws_drawlogentry_changelist")
        return format_html(
            '<a href="{}?competition__id__exact={}">Every step for this competition</a>',
            url,
            obj.competition_id,
        )

    @admin.display(description="winning ticket", ordering="winning_ticket__number")
    def winning_number(self, obj):
        return f"#{obj.winning_ticket.number}" if obj.winning_ticket else "—"


@admin.register(DrawLogEntry)
class DrawLogEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    fields = ("at", "competition", "draw", "actor", "action", "message", "data")
    readonly_fields = fields
    list_display = ("at", "competition", "action", "actor", "message")
    list_filter = ("action",)
    list_select_related = ("competition", "actor")
    search_fields = ("competition__title", "competition__slug", "action", "message")
    ordering = ("-at", "-id")
    date_hierarchy = "at"
