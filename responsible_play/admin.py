from django.contrib import admin

from core.admin_helpers import ReadOnlyAdminMixin

from .models import SpendLimit


@admin.register(SpendLimit)
class SpendLimitAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The record of every limit a customer asked for. Read-only: limits change through
    "My limits" (responsible_play.limits), so the cooling-off can't be skipped from here."""

    list_display = ("user", "monthly_limit", "requested_at", "effective_at", "cancelled_at")
    list_filter = (("cancelled_at", admin.EmptyFieldListFilter),)
    list_select_related = ("user",)
    search_fields = ("user__email",)
    raw_id_fields = ("user", "created_by")
    date_hierarchy = "requested_at"
