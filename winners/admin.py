"""Back-office for winners: the public write-up is edited here; who won is the draw's.

Approval and publication go through `winners.services` (actions below), so the timestamps
and the approver are recorded the same way wherever they happen.
"""

from django.contrib import admin, messages
from django.utils.translation import ngettext

from .exceptions import WinnerError
from .models import Winner
from .services import winner_approve, winner_publish


@admin.register(Winner)
class WinnerAdmin(admin.ModelAdmin):
    fieldsets = (
        (
            "Draw result",
            {"fields": ("competition", "prize", "draw", "ticket", "user", "ledger_index")},
        ),
        (
            "Announcement",
            {
                "fields": (
                    ("display_name", "location"),
                    "announcement",
                    "announced_at",
                    ("photo", "video"),
                )
            },
        ),
        (
            "Verification and publication",
            {
                "fields": (
                    ("verification_status", "verified_at", "verified_by"),
                    ("is_published", "published_at"),
                )
            },
        ),
        ("Delivery", {"fields": ("prize_delivered_at", "created_at")}),
    )
    readonly_fields = (
        "competition",
        "prize",
        "draw",
        "ticket",
        "user",
        "ledger_index",
        "verification_status",
        "verified_at",
        "verified_by",
        "is_published",
        "published_at",
        "created_at",
    )
    raw_id_fields = ("user", "ticket", "verified_by")
    list_display = (
        "display_name",
        "competition",
        "prize",
        "ticket_number",
        "verification_status",
        "is_published",
        "prize_delivered_at",
    )
    list_filter = (
        "verification_status",
        "is_published",
        ("prize_delivered_at", admin.EmptyFieldListFilter),
    )
    list_select_related = ("competition", "prize", "ticket")
    search_fields = ("display_name", "user__email", "competition__title")
    ordering = ("-created_at", "-id")
    actions = ("approve", "publish")

    def has_add_permission(self, request):
        return False  # winners come from draws

    def has_delete_permission(self, request, obj=None):
        return False  # a draw's result is not undone from here

    @admin.display(description="ticket", ordering="ticket__number")
    def ticket_number(self, obj):
        return f"#{obj.ticket.number}"

    @admin.action(description="Approve selected winners", permissions=["change"])
    def approve(self, request, queryset):
        for winner in queryset:
            winner_approve(winner=winner, by=request.user)
            self.log_change(request, winner, "Approved.")
        count = len(queryset)
        self.message_user(
            request,
            ngettext("Approved %d winner.", "Approved %d winners.", count) % count,
            level=messages.SUCCESS,
        )

    @admin.action(description="Publish selected winners to Champions", permissions=["change"])
    def publish(self, request, queryset):
        published = 0
        for winner in queryset:
            try:
                winner_publish(winner=winner)
            except WinnerError as refusal:
                self.message_user(request, f"{winner.display_name}: {refusal}", messages.ERROR)
            else:
                published += 1
                self.log_change(request, winner, "Published to Champions.")
        if published:
            self.message_user(
                request,
                ngettext("Published %d winner.", "Published %d winners.", published) % published,
                level=messages.SUCCESS,
            )
