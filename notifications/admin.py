"""Back-office for the notification outbox: what was sent to whom, and what failed and why.

Rows are written by the services that cause them and sent by Celery tasks; staff read them
here (and may delete old ones) but do not write or edit messages by hand.
"""

from django.contrib import admin

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    fieldsets = (
        (None, {"fields": ("kind", "channel", "recipient", "user", "payload")}),
        (
            "Delivery",
            {
                "fields": (
                    "status",
                    "attempts",
                    "next_attempt_at",
                    "last_error",
                    "provider_message_id",
                    "idempotency_key",
                    "created_at",
                    "sent_at",
                )
            },
        ),
    )
    readonly_fields = (
        "kind",
        "channel",
        "recipient",
        "user",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "provider_message_id",
        "idempotency_key",
        "created_at",
        "sent_at",
    )
    raw_id_fields = ("user",)
    list_display = (
        "kind",
        "channel",
        "recipient",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
        "sent_at",
    )
    list_filter = ("kind", "channel", "status")
    search_fields = ("recipient", "idempotency_key")
    ordering = ("-created_at", "-id")
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
