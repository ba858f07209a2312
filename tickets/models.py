import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from competitions.models import MONEY, AnswerChoice, Competition

REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out over the phone


def new_order_reference() -> str:
    return "FD-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))


class Order(models.Model):
    """A customer's purchase: one line per competition, paid once, holding numbers while pending."""

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting payment"
        PAID = "paid", "Paid"
        EXPIRED = "expired", "Reservation expired"
        CANCELLED = "cancelled", "Cancelled"
        PARTIALLY_REFUNDED = "partially_refunded", "Partly refunded"
        REFUNDED = "refunded", "Refunded"

    reference = models.CharField(
        max_length=16, unique=True, default=new_order_reference, editable=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    currency = models.CharField(max_length=3, default="GBP")
    total = models.DecimalField(**MONEY, default=0)
    amount_refunded = models.DecimalField(**MONEY, default=0)
    reserved_until = models.DateTimeField(null=True, blank=True, db_index=True)
    stripe_checkout_session_id = models.CharField(
        max_length=255, null=True, blank=True, unique=True
    )
    stripe_payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative"),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0) & Q(amount_refunded__lte=F("total")),
                name="order_refund_within_total",
            ),
            models.CheckConstraint(
                condition=~Q(status="paid") | Q(paid_at__isnull=False),
                name="order_paid_has_timestamp",
            ),
        ]

    def __str__(self):
        return self.reference


class OrderLine(models.Model):
    """Tickets for one competition within an order: a quantity (lucky dip) or chosen numbers."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    competition = models.ForeignKey(
        Competition, on_delete=models.PROTECT, related_name="order_lines"
    )
    quantity = models.PositiveIntegerField()
    chosen_numbers = models.JSONField(default=list, blank=True, help_text="Empty for a lucky dip.")
    answer = models.ForeignKey(AnswerChoice, on_delete=models.PROTECT, related_name="+")
    unit_price = models.DecimalField(**MONEY)
    line_total = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "competition"], name="orderline_one_per_competition"
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orderline_quantity_positive"),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name="orderline_price_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(line_total__gte=0), name="orderline_total_not_negative"
            ),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.competition}"

    @property
    def answered_correctly(self) -> bool:
        return self.answer.is_correct


class Ticket(models.Model):
    """One numbered entry. A number is held by at most one live (active or invalid) ticket of a
    competition; a refunded ticket frees its number for sale again."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        REFUNDED = "refunded", "Refunded"
        INVALID = "invalid", "Invalid (wrong answer)"

    class Source(models.TextChoices):
        PAID = "paid", "Paid"
        POSTAL = "postal", "Free postal entry"

    competition = models.ForeignKey(Competition, on_delete=models.PROTECT, related_name="tickets")
    number = models.PositiveIntegerField()
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tickets"
    )
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, null=True, blank=True, related_name="tickets"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.PAID)
    purchased_at = models.DateTimeField(db_index=True)
    refunded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["competition", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["competition", "number"],
                condition=Q(status__in=["active", "invalid"]),
                name="ticket_number_unique_per_competition",
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="ticket_number_positive"),
            models.CheckConstraint(
                condition=Q(source="postal") | Q(order__isnull=False), name="ticket_paid_has_order"
            ),
            models.CheckConstraint(
                condition=~Q(status="refunded") | Q(refunded_at__isnull=False),
                name="ticket_refunded_has_timestamp",
            ),
        ]
        indexes = [
            models.Index(fields=["competition", "status", "number"], name="ticket_ledger_idx"),
            models.Index(fields=["user", "competition"], name="ticket_user_comp_idx"),
        ]

    def __str__(self):
        return f"#{self.number} in {self.competition}"
