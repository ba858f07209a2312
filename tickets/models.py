from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from competitions.models import MONEY, AnswerChoice, Competition
from core.references import new_reference


def new_order_reference() -> str:
    return new_reference("FD-")


class CardFunding(models.TextChoices):
    CREDIT = "credit", "Credit card"
    DEBIT = "debit", "Debit card"
    PREPAID = "prepaid", "Prepaid card"
    UNKNOWN = "unknown", "Unknown"


class OrderQuerySet(models.QuerySet):
    def paid_between(self, start, end):
        """Orders paid in [start, end), whatever has been refunded of them since."""
        return self.filter(status__in=Order.PAID_STATES, paid_at__gte=start, paid_at__lt=end)

    def holding(self, now):
        """Pending orders whose reservation still holds their numbers at `now`."""
        return self.filter(status=Order.Status.PENDING, reserved_until__gt=now)


# What a paid order still counts as spent: its total less what has been refunded.
NET_PAID = F("total") - F("amount_refunded")


class Order(models.Model):
    """A customer's purchase: one line per competition, paid once, holding numbers while pending."""

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting payment"
        PAID = "paid", "Paid"
        EXPIRED = "expired", "Reservation expired"
        CANCELLED = "cancelled", "Cancelled"
        PARTIALLY_REFUNDED = "partially_refunded", "Partly refunded"
        REFUNDED = "refunded", "Refunded"

    # Paid at some point (paid_at set), whatever has been refunded since.
    PAID_STATES = (Status.PAID, Status.PARTIALLY_REFUNDED, Status.REFUNDED)

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
    card_funding = models.CharField(
        max_length=10,
        choices=CardFunding.choices,
        blank=True,
        default="",
        help_text="The paying card's funding type as the payment provider reported it.",
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OrderQuerySet.as_manager()

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
        indexes = [
            # Finding lapsed reservations must not read every paid order's old reserved_until.
            models.Index(
                fields=["reserved_until"],
                condition=Q(status="pending"),
                name="order_pending_expiry_idx",
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
    unit_price = models.DecimalField(**MONEY, help_text="The single-ticket price when ordered.")
    line_total = models.DecimalField(
        **MONEY, help_text="What this line costs: quantity × unit price, less both discounts."
    )
    # Database defaults too, so rows written in SQL (bench/) need not name the new columns.
    bundle_discount = models.DecimalField(
        **MONEY,
        default=0,
        db_default=0,
        help_text="Saved by multi-buy bundles (competitions.pricing).",
    )
    code_discount = models.DecimalField(
        **MONEY,
        default=0,
        db_default=0,
        help_text="This line's share of the order's discount code.",
    )
    bundles = models.JSONField(
        default=list,
        db_default=[],
        blank=True,
        help_text='The bundles bought: [{"quantity": 5, "price": "4.00", "times": 1}, ...].',
    )

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(bundle_discount__gte=0) & Q(code_discount__gte=0),
                name="orderline_discounts_not_negative",
            ),
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


class TicketQuerySet(models.QuerySet):
    def issued(self):
        """Tickets a customer has actually got (paid or postal, valid, invalid or refunded):
        everything except numbers merely held by a checkout awaiting payment."""
        return self.exclude(status=Ticket.Status.RESERVED)


class Ticket(models.Model):
    """One numbered entry. A number is held by at most one live (active or invalid) or reserved
    ticket of a competition; a refunded ticket frees its number for sale again.

    A `reserved` ticket is a number held by a pending order while the customer pays; payment
    turns it `active` (or `invalid` for a wrong answer), expiry deletes it. Keeping reservations
    in this table means the one unique constraint below covers sold and reserved numbers."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        REFUNDED = "refunded", "Refunded"
        INVALID = "invalid", "Invalid (wrong answer)"
        RESERVED = "reserved", "Reserved (awaiting payment)"

    SOLD_STATUSES = (Status.ACTIVE, Status.INVALID)
    HOLDING_STATUSES = (Status.ACTIVE, Status.INVALID, Status.RESERVED)

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

    objects = TicketQuerySet.as_manager()

    class Meta:
        ordering = ["competition", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["competition", "number"],
                condition=Q(status__in=["active", "invalid", "reserved"]),
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
        # Support staff may refund without being able to change anything else.
        permissions = [("refund_ticket", "Can refund tickets")]

    def __str__(self):
        return f"#{self.number} in {self.competition}"


class PaymentEvent(models.Model):
    """Every payment-provider event received, verified or not yet processed: the audit trail
    of money coming in and going out, and the key that makes webhook processing idempotent."""

    stripe_event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, null=True, blank=True, related_name="payment_events"
    )
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self):
        return f"{self.type} {self.stripe_event_id}"


class Refund(models.Model):
    """Money returned to a customer for some or all tickets of an order.

    Also the refunds' outbox (tickets.services.refunds): the row is written in the transaction
    that decides on the refund (`pending`), a worker claims it (`submitting`) and sends it to the
    provider with an idempotency key derived from the row, until the provider confirms it
    (`succeeded`) or it fails for good (`failed`, operators alerted)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUBMITTING = "submitting", "Being sent"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Reason(models.TextChoices):
        REQUESTED = "requested", "Requested by the customer"
        LATE_PAYMENT = "late_payment", "Paid after the reservation lapsed; numbers gone"
        PAYMENT_MISMATCH = "payment_mismatch", "Payment did not match the order"
        COMPETITION_CANCELLED = "competition_cancelled", "Competition cancelled"
        PROVIDER = "provider", "Refunded at the payment provider"
        CREDIT_CARD = "credit_card", "Credit card not accepted for this payment"
        OTHER = "other", "Other"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    tickets = models.ManyToManyField(Ticket, blank=True, related_name="refunds")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default="GBP")
    reason = models.CharField(max_length=30, choices=Reason.choices, default=Reason.REQUESTED)
    note = models.CharField(max_length=255, blank=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    provider_refund_id = models.CharField(
        max_length=255, null=True, blank=True, unique=True, help_text="e.g. Stripe re_..."
    )
    failure_message = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="How often it has been sent to the provider."
    )
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When the sweeper sends this refund (again)."
    )
    claimed_at = models.DateTimeField(
        null=True, blank=True, help_text="When a worker last took this refund to send it."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="refund_due_idx")]

    def __str__(self):
        return f"Refund {self.amount} on {self.order}"

    @property
    def idempotency_key(self) -> str:
        """The provider's idempotency key: one per refund row, however often it is sent."""
        return f"fairdraw-refund-{self.pk}"


class CancellationJob(models.Model):
    """Refunding everyone in a cancelled competition, in the background (tickets.cancellation).

    The competition is cancelled at once (sales stop); the orders are then refunded in batches,
    each batch one transaction that moves `last_order_id` on, so a job that stopped half-way
    resumes after the last order it committed and never refunds an order twice."""

    class Status(models.TextChoices):
        RUNNING = "running", "Refunding"
        DONE = "done", "Done"

    competition = models.OneToOneField(
        Competition, on_delete=models.PROTECT, related_name="cancellation_job"
    )
    reason = models.CharField(max_length=255)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.RUNNING, db_index=True
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    orders_total = models.PositiveIntegerField(help_text="Paid orders to refund at the start.")
    orders_refunded = models.PositiveIntegerField(default=0)
    orders_failed = models.PositiveIntegerField(default=0)
    last_order_id = models.PositiveBigIntegerField(
        default=0, help_text="Orders up to this id have been dealt with."
    )
    failures = models.JSONField(
        default=list, blank=True, help_text="Orders not refunded, and why (for staff)."
    )
    started_at = models.DateTimeField()
    updated_at = models.DateTimeField(help_text="When the job last made progress.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self):
        return f"Cancellation of {self.competition}"

    @property
    def orders_done(self) -> int:
        return self.orders_refunded + self.orders_failed

    @property
    def progress(self) -> str:
        """'120 of 400 orders (30%)', and the failures if any: what staff read in the admin."""
        if self.status == self.Status.DONE:
            text = f"done: {self.orders_refunded} orders refunded"
        else:
            total = max(self.orders_total, self.orders_done)
            percent = 100 if not total else self.orders_done * 100 // total
            text = f"{self.orders_done} of {total} orders ({percent}%)"
        if self.orders_failed:
            text += f", {self.orders_failed} not refunded"
        return text


def new_postal_reference() -> str:
    return new_reference("PE-")


class ReceiptKey(models.Model):
    """An Ed25519 key the operator has signed receipts with, as published (tickets.receipts):
    its public half and the time it signed from (`valid_from`) until a newer key took over
    (`retired_at`). Kept for good, so old receipts verify after the private key is gone."""

    key_id = models.CharField(max_length=64, unique=True)
    public_key = models.CharField(max_length=64, help_text="Raw 32-byte Ed25519 key, base64.")
    valid_from = models.DateTimeField()
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-valid_from", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(retired_at__isnull=True) | Q(retired_at__gte=F("valid_from")),
                name="receiptkey_retired_after_valid_from",
            ),
        ]

    def __str__(self):
        return self.key_id


class Receipt(models.Model):
    """The signed entry receipt of one paid order or one free postal entry (tickets.receipts):
    what was entered, in a canonical JSON payload, with the operator's Ed25519 signature.

    An order's receipt is written by the statement that claims the order as paid (or, where
    that could not sign, right after the payment commits or by the sweep) and at most once
    (one per order); a postal entry's in the entry's own transaction. `reference` is the order's reference, or the postal entry's own."""

    class Kind(models.TextChoices):
        ORDER = "order", "Paid order"
        POSTAL = "postal", "Free postal entry"

    reference = models.CharField(max_length=16, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="receipts"
    )
    order = models.OneToOneField(
        Order, on_delete=models.PROTECT, null=True, blank=True, related_name="receipt"
    )
    competition = models.ForeignKey(
        Competition,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="A postal entry's competition (an order's are in its lines).",
    )
    payload = models.JSONField(help_text="The signed part, as signed.")
    key_id = models.CharField(max_length=64)
    signature = models.CharField(max_length=128, help_text="Ed25519 signature, base64.")
    issued_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="order") & Q(order__isnull=False) & Q(competition__isnull=True))
                | (Q(kind="postal") & Q(order__isnull=True) & Q(competition__isnull=False)),
                name="receipt_order_or_postal_entry",
            ),
        ]

    def __str__(self):
        return f"Receipt {self.reference}"

    @property
    def document(self) -> dict:
        """The receipt as published and downloaded: the payload, the key id, the signature."""
        return {"receipt": self.payload, "key_id": self.key_id, "signature": self.signature}


class EntrantBroadcast(models.Model):
    """One message to every entrant of a competition (tickets.entrants): an extension notice,
    the result of the draw, the cancellation. One row per (competition, subject), so a subject
    is broadcast once; the messages' own keys make a rerun add nothing for anyone told. The
    periodic job carries on a broadcast that has not finished."""

    competition = models.ForeignKey(
        Competition, on_delete=models.PROTECT, related_name="entrant_broadcasts"
    )
    subject = models.CharField(max_length=40, help_text='e.g. "result" or "extended-1".')
    kind = models.CharField(max_length=20, help_text="Which registered builder writes it.")
    context = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    entrants_told = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["competition", "subject"], name="entrant_broadcast_once_per_subject"
            )
        ]

    def __str__(self):
        return f"{self.subject} to the entrants of {self.competition}"


class DiscountCode(models.Model):
    """A code customers type in the basket: a percentage or a fixed amount off, site-wide or for
    one competition, within dates, up to a number of uses in all and per customer.

    `uses` counts the redemptions that hold (tickets.services.discounts): it moves in one
    conditional statement that refuses to pass `max_uses`, and the database refuses it too."""

    class Kind(models.TextChoices):
        PERCENT = "percent", "Percentage off"
        FIXED = "fixed", "Fixed amount off"

    code = models.CharField(
        max_length=32,
        unique=True,
        help_text="What customers type (letters and digits; not case-sensitive).",
    )
    description = models.CharField(
        max_length=200, blank=True, help_text="For staff: what the code is for."
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PERCENT)
    percent = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, help_text="e.g. 10 for 10% off."
    )
    amount = models.DecimalField(**MONEY, null=True, blank=True, help_text="e.g. 2.00 for £2 off.")
    competition = models.ForeignKey(
        Competition,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="discount_codes",
        help_text="Only this competition's tickets (empty: every competition).",
    )
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True, help_text="Expires at this time.")
    max_uses = models.PositiveIntegerField(
        null=True, blank=True, help_text="Uses in all (empty: no limit)."
    )
    max_uses_per_customer = models.PositiveIntegerField(
        null=True, blank=True, default=1, help_text="Uses per customer (empty: no limit)."
    )
    min_spend = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text="The tickets it applies to must cost at least this much (after bundles).",
    )
    is_active = models.BooleanField(default=True)
    uses = models.PositiveIntegerField(
        default=0, editable=False, help_text="Orders holding or having bought with this code."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="percent", percent__gt=0, percent__lte=100, amount__isnull=True)
                    | Q(kind="fixed", amount__gt=0, percent__isnull=True)
                ),
                name="discountcode_percent_or_amount",
            ),
            models.CheckConstraint(
                condition=Q(max_uses__isnull=True) | Q(uses__lte=F("max_uses")),
                name="discountcode_uses_within_limit",
            ),
            models.CheckConstraint(condition=Q(uses__gte=0), name="discountcode_uses_not_negative"),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_until__gt=F("valid_from")),
                name="discountcode_valid_until_after_from",
            ),
            models.CheckConstraint(
                condition=Q(max_uses_per_customer__isnull=True) | Q(max_uses_per_customer__gte=1),
                name="discountcode_per_customer_positive",
            ),
        ]

    def __str__(self):
        return self.code

    @property
    def terms(self) -> str:
        """'10% off' or '£2.00 off', and where."""
        off = (
            f"{self.percent.normalize():f}% off"
            if self.kind == self.Kind.PERCENT
            else (f"£{self.amount} off")
        )
        return off + (f" {self.competition.title}" if self.competition_id else "")

    def clean(self):
        self.code = (self.code or "").strip().upper()
        if self.code and not self.code.isalnum():
            raise ValidationError({"code": "Letters and digits only."})
        if self.kind == self.Kind.PERCENT:
            self.amount = None
            if self.percent is None or not 0 < self.percent <= 100:
                raise ValidationError({"percent": "A percentage above 0 and at most 100."})
        else:
            self.percent = None
            if self.amount is None or self.amount <= 0:
                raise ValidationError({"amount": "An amount above £0.00."})
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            raise ValidationError({"valid_until": "The code must expire after it starts."})
        if self.max_uses is not None and self.pk and self.max_uses < self.uses:
            raise ValidationError(
                {"max_uses": f"{self.uses} orders use it already: not below {self.uses}."}
            )


class DiscountRedemption(models.Model):
    """One order's use of a code (one code per order), and what it took off. It holds a use of
    the code until `released_at`: the checkout lapsed or was cancelled, or its payment was
    refused and returned without issuing tickets. A paid order keeps its use, even if refunded."""

    code = models.ForeignKey(DiscountCode, on_delete=models.PROTECT, related_name="redemptions")
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="redemption")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="discount_redemptions"
    )
    amount = models.DecimalField(**MONEY, help_text="Taken off the order.")
    created_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["code", "order"], name="redemption_once_per_order"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="redemption_amount_positive"),
        ]
        indexes = [models.Index(fields=["code", "user"], name="redemption_code_user_idx")]

    def __str__(self):
        return f"{self.code} on {self.order}"


class PostalEntry(models.Model):
    """One batch of free postal entries as staff recorded it (tickets.services.postal_entry_add):
    when the postcard arrived and when it was entered, so the operator can show how promptly
    postal entries are handled. The entries themselves are the tickets (source "postal")."""

    competition = models.ForeignKey(
        Competition, on_delete=models.PROTECT, related_name="postal_entries"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="postal_entries"
    )
    quantity = models.PositiveIntegerField()
    numbers = models.JSONField(default=list, blank=True)
    received_on = models.DateField(
        null=True,
        blank=True,
        help_text="The day the postcard arrived (empty for entries recorded before we kept it).",
    )
    recorded_at = models.DateTimeField(db_index=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        verbose_name_plural = "postal entries"
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="postalentry_quantity_positive"
            )
        ]

    def __str__(self):
        return f"{self.quantity} postal entr{'y' if self.quantity == 1 else 'ies'} in {self.competition}"
