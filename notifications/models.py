from django.conf import settings
from django.db import models
from django.db.models import Q


class Notification(models.Model):
    """Outbox entry: written in the same transaction as the change that causes it, then sent
    by a Celery task. The idempotency key makes enqueueing the same message twice a no-op."""

    class Kind(models.TextChoices):
        CHECKOUT_STARTED = "checkout_started", "Checkout Started"
        ORDER_PLACED = "order_placed", "Order Placed"
        COMPETITION_ENTERED = "competition_entered", "Competition Entered"
        WINNER_ANNOUNCED = "winner_announced", "Winner Announced"
        PRIZE_DELIVERED = "prize_delivered", "Prize Delivered"
        ORDER_REFUNDED = "order_refunded", "Order Refunded"
        COMPETITION_EXTENDED = "competition_extended", "Competition Extended"
        COMPETITION_RESULT = "competition_result", "Competition Result"
        PROFILE_UPDATED = "profile_updated", "Marketing profile updated"
        COMPLAINT = "complaint", "Complaint"
        ADMIN_ALERT = "admin_alert", "Admin alert"

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        SMS = "sms", "SMS (Twilio)"
        KLAVIYO = "klaviyo", "Klaviyo event"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=30, choices=Kind.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    recipient = models.CharField(
        max_length=254, help_text="E-mail address, phone number or profile."
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When the sweeper queues this entry (again)."
    )
    claimed_at = models.DateTimeField(
        null=True, blank=True, help_text="When a worker last took this entry to send it."
    )
    last_error = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="notification_sent_has_timestamp",
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="notification_due_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} → {self.recipient} ({self.get_channel_display()})"
