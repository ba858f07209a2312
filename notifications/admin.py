"""Back-office for the notification outbox: what was sent to whom, and what failed and why.

Rows are written by each domain's events (through notifications.outbox) in the transaction
of the change that causes them, and sent by Celery tasks; staff read them here, see the
provider's error, and may send a failed or waiting entry again ("Retry now"), but do not write
or edit messages by hand.
"""

from django.contrib import admin, messages
from django.db import transaction
from django.utils.text import Truncator

from .models import Notification
from .services import notification_retry


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    fieldsets = (
        (None, {"fields": ("kind", "channel", "recipient", "user", "payload")}),
        (
            "Delivery",
            {
                "fields": (
                    "status",
                    "last_error",
                    "attempts",
                    "next_attempt_at",
                    "claimed_at",
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
        "claimed_at",
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
        "provider_error",
        "next_attempt_at",
        "created_at",
        "sent_at",
    )
    list_filter = ("status", "channel", "kind", "created_at", "sent_at")
    search_fields = ("recipient", "idempotency_key", "provider_message_id", "last_error")
    ordering = ("-created_at", "-id")
    date_hierarchy = "created_at"
    actions = ["retry_now"]

    @admin.display(description="provider error")
    def provider_error(self, obj):
        return Truncator(obj.last_error).chars(80)

    @admin.action(description="Retry now", permissions=["retry"])
    def retry_now(self, request, queryset):
        queued = skipped = 0
        with transaction.atomic():
            for notification in queryset:
                if notification_retry(notification=notification, by=request.user):
                    queued += 1
                else:
                    skipped += 1
        if queued:
            self.message_user(request, f"{queued} notification(s) queued to send again.")
        if skipped:
            self.message_user(
                request,
                f"{skipped} notification(s) skipped: already sent or being sent.",
                messages.WARNING,
            )

    def has_retry_permission(self, request):
        return request.user.has_perm("notifications.change_notification")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
