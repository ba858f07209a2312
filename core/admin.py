from django.contrib import admin

from . import admin_settings  # noqa: F401  (operator settings)
from .admin_helpers import ReadOnlyAdminMixin
from .models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The audit log: read-only, written only by the services."""

    list_display = ("at", "actor", "action", "content_type", "object_repr", "note")
    list_filter = ("action", "content_type", ("at", admin.DateFieldListFilter))
    list_select_related = ("actor", "content_type")
    search_fields = ("object_repr", "object_id", "actor__email", "note", "action")
    date_hierarchy = "at"
    ordering = ("-at", "-id")
    fields = (
        "at",
        "actor",
        "action",
        "content_type",
        "object_id",
        "object_repr",
        "before",
        "after",
        "note",
    )
    readonly_fields = fields
    show_full_result_count = False
