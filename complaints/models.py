"""Customer complaints and their history."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from core.references import new_reference


def new_complaint_reference() -> str:
    return new_reference("C-")


class Complaint(models.Model):
    """A customer's complaint: logged with a reference, answered and resolved by staff, with
    the times that show whether it was handled within the operator's targets."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESPONDED = "responded", "Responded"
        RESOLVED = "resolved", "Resolved"
        ESCALATED = "escalated", "Escalated"

    class Category(models.TextChoices):
        PURCHASE = "purchase", "Buying tickets or payment"
        REFUND = "refund", "A refund"
        DRAW = "draw", "A draw or its result"
        PRIZE = "prize", "A prize or its delivery"
        ACCOUNT = "account", "My account"
        SAFER_PLAY = "safer_play", "Limits, breaks or self-exclusion"
        MARKETING = "marketing", "E-mails or texts from us"
        OTHER = "other", "Something else"

    reference = models.CharField(
        max_length=12, unique=True, default=new_complaint_reference, editable=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="complaints",
    )
    name = models.CharField(max_length=150)
    email = models.EmailField("e-mail address")
    category = models.CharField(max_length=20, choices=Category.choices)
    competition = models.ForeignKey(
        "competitions.Competition",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="complaints",
    )
    order_reference = models.CharField(max_length=16, blank=True)
    message = models.TextField()
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        limit_choices_to={"is_staff": True},
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    response_due_at = models.DateTimeField()
    resolution_due_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "accounts_complaint"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="open") | models.Q(first_response_at__isnull=False),
                name="complaint_answered_has_response_time",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="resolved") | models.Q(resolved_at__isnull=False),
                name="complaint_resolved_has_timestamp",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="escalated") | models.Q(escalated_at__isnull=False),
                name="complaint_escalated_has_timestamp",
            ),
        ]

    def __str__(self):
        return self.reference


class ComplaintEvent(models.Model):
    """The history of a complaint: its creation, every reply, note and change of status."""

    class Kind(models.TextChoices):
        CREATED = "created", "Complaint received"
        RESPONSE = "response", "Reply to the customer"
        NOTE = "note", "Internal note"
        STATUS = "status", "Status changed"

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status_from = models.CharField(max_length=10, choices=Complaint.Status.choices, blank=True)
    status_to = models.CharField(max_length=10, choices=Complaint.Status.choices, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        db_table = "accounts_complaintevent"
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.complaint} {self.get_kind_display()}"
