"""Shared infrastructure every layer may use: the audit log and the operator's settings.

Both tables were created by `accounts` and keep their names (docs/architecture.md)."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEntry(models.Model):
    """Who changed what in the back-office, when, and the values before and after.

    Written by the service that makes the change, inside its transaction (`audit_record`), so
    an entry exists exactly when the change does. Values are JSON snapshots with secrets masked.
    The object is named by content type + id + text rather than a generic foreign key, so an
    entry survives its object and never joins to it."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=50, db_index=True)
    content_type = models.ForeignKey(
        "contenttypes.ContentType", on_delete=models.PROTECT, null=True, blank=True
    )
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        db_table = "accounts_auditentry"
        ordering = ["-at", "-id"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"
        indexes = [models.Index(fields=["content_type", "object_id"], name="audit_object_idx")]

    def __str__(self):
        return f"{self.action} {self.object_repr}"


# ---------------------------------------------------------------- operator settings


def _env_decimal(name: str, default: str) -> Decimal | None:
    raw = str(getattr(settings, name, default) or "").strip()
    return Decimal(raw).quantize(Decimal("0.01")) if raw else None


class OperatorSettings(models.Model):
    """The operator's responsible-play settings, edited in admin: one row (pk 1).

    The environment variables of the same names only give the first values, when the row is
    created; from then on admin is where they change, and every change is audited. Read them
    with `OperatorSettings.current()`."""

    monthly_spend_cap = models.DecimalField(
        "monthly spend cap per customer",
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="The most any customer may spend in a calendar month, whatever their own "
        "limit. Blank: no operator cap.",
    )
    limit_cooling_off_hours = models.PositiveIntegerField(
        "cooling-off for raising a limit (hours)",
        default=24,
        help_text="How long a customer waits before raising or removing their own limit takes "
        "effect. Lowering is immediate.",
    )
    credit_card_monthly_cap = models.DecimalField(
        "credit-card spend cap per customer per month",
        max_digits=10,
        decimal_places=2,
        default=Decimal("250.00"),
        help_text="The most a customer may pay by credit card in a calendar month. Credit "
        "cards are never accepted for instant-win competitions.",
    )
    require_age_verification = models.BooleanField(
        "require age verification before the first purchase",
        default=False,
        help_text="When on, a customer cannot buy until staff have verified their age.",
    )
    min_open_clear_days = models.PositiveIntegerField(
        "minimum open time (clear days, Sundays excluded)",
        default=3,
        help_text="Checked when a competition is activated.",
    )
    skill_warning_wrong_percent = models.PositiveIntegerField(
        "skill question: warn below this wrong-answer rate (%)",
        default=10,
        help_text="A question that nearly everyone answers correctly may not be a real test "
        "of skill: staff are warned when fewer answers than this are wrong.",
    )
    skill_warning_min_answers = models.PositiveIntegerField(
        "skill question: judge after this many answers",
        default=50,
        help_text="No warning before a competition has this many answers to judge by.",
    )
    harm_entries_per_day = models.PositiveIntegerField(
        "flag: entries in one day",
        default=100,
        help_text="Flag a customer who buys this many tickets or more in one UK day.",
    )
    harm_spend_share_percent = models.PositiveIntegerField(
        "flag: share of monthly limit spent (%)",
        default=90,
        help_text="Flag a customer who has spent this share of their monthly limit.",
    )
    harm_limit_raises = models.PositiveIntegerField(
        "flag: limit raised (times in 90 days)",
        default=3,
        help_text="Flag a customer who asks to raise or remove their limit this often.",
    )
    harm_declined_payments = models.PositiveIntegerField(
        "flag: declined payments (in 7 days)",
        default=3,
        help_text="Flag a customer with this many declined card payments in a week.",
    )
    complaint_response_days = models.PositiveIntegerField(
        "complaints: first response within (days)", default=5
    )
    complaint_resolution_days = models.PositiveIntegerField(
        "complaints: resolve within (days)", default=28
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        db_table = "accounts_operatorsettings"
        verbose_name = "operator settings"
        verbose_name_plural = "operator settings"
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="operatorsettings_single_row"),
            models.CheckConstraint(
                condition=models.Q(monthly_spend_cap__isnull=True)
                | models.Q(monthly_spend_cap__gte=0),
                name="operatorsettings_cap_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(credit_card_monthly_cap__gte=0),
                name="operatorsettings_card_cap_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(harm_spend_share_percent__gte=1)
                & models.Q(harm_spend_share_percent__lte=100),
                name="operatorsettings_spend_share_percent",
            ),
        ]

    def __str__(self):
        return "Operator settings"

    @classmethod
    def defaults(cls) -> dict:
        """First values, from the environment (config/settings/base.py)."""
        return {
            "monthly_spend_cap": _env_decimal("FAIRDRAW_OPERATOR_MONTHLY_CAP", ""),
            "limit_cooling_off_hours": settings.FAIRDRAW_LIMIT_COOLING_OFF_HOURS,
            "min_open_clear_days": settings.FAIRDRAW_MIN_OPEN_CLEAR_DAYS,
            "credit_card_monthly_cap": _env_decimal("FAIRDRAW_CREDIT_CARD_MONTHLY_CAP", "250.00"),
        }

    @classmethod
    def current(cls) -> "OperatorSettings":
        """The settings in force. Never writes: until staff first save them in admin (see
        `ensure`), they are the environment's first values, unsaved. A purchase reads them
        inside its locked transaction, and an insert there would make concurrent purchases
        wait on each other's uncommitted row."""
        row = cls.objects.filter(pk=1).first()
        return row if row is not None else cls(pk=1, **cls.defaults())

    @classmethod
    def ensure(cls) -> "OperatorSettings":
        """The stored row, created from the environment's first values if missing. For the
        places that change the settings (admin, core.operator), never for readers."""
        row, _ = cls.objects.get_or_create(pk=1, defaults=cls.defaults())
        return row
