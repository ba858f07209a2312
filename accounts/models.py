import secrets
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


def age_on(date_of_birth: date, on: date) -> int:
    """Whole years between a birth date and `on` (a 29 Feb birthday counts from 1 Mar)."""
    years = on.year - date_of_birth.year
    if (on.month, on.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1
    return years


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        if extra.get("is_staff") is not True or extra.get("is_superuser") is not True:
            raise ValueError("A superuser must have is_staff=True and is_superuser=True.")
        return self._create_user(email, password, **extra)

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)


class VerificationMethod(models.TextChoices):
    DOCUMENT = "document", "Photo ID checked (passport or driving licence)"
    ELECTRONIC = "electronic", "Electronic check (credit reference agency)"
    OPEN_BANKING = "open_banking", "Open banking"
    OTHER = "other", "Other (say how in the note)"


class ExclusionKind(models.TextChoices):
    BREAK = "break", "Taking a break"
    SELF_EXCLUSION = "self_exclusion", "Self-excluded"
    CLOSED = "closed", "Account closed"


class User(AbstractBaseUser, PermissionsMixin):
    """A customer or a member of staff. Logs in with their e-mail address."""

    email = models.EmailField("e-mail address", unique=True)
    first_name = models.CharField(max_length=150)
    last_name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(
        max_length=20,
        blank=True,
        help_text="Mobile number in international form, e.g. +447700900123.",
    )
    date_of_birth = models.DateField(null=True, blank=True)
    is_verified = models.BooleanField(
        "verified", default=False, help_text="Identity and age checked by the operator."
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_method = models.CharField(
        max_length=20, choices=VerificationMethod.choices, blank=True, default=""
    )
    verification_note = models.CharField(max_length=255, blank=True)
    verified_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    is_banned = models.BooleanField(
        "banned", default=False, help_text="A banned customer can neither log in nor buy."
    )
    banned_at = models.DateTimeField(null=True, blank=True)
    ban_reason = models.CharField(max_length=255, blank=True)
    marketing_consent = models.BooleanField(default=False)
    marketing_consent_at = models.DateTimeField(null=True, blank=True)
    # Responsible play: a break, a self-exclusion or a closed account stops every purchase and
    # all marketing until `excluded_until` (never, for a closed account). Set only through
    # accounts.services, which never shortens one that is in force.
    exclusion_kind = models.CharField(
        max_length=20, choices=ExclusionKind.choices, blank=True, default=""
    )
    excluded_at = models.DateTimeField(null=True, blank=True)
    excluded_until = models.DateTimeField(null=True, blank=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = ["first_name"]

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
            models.CheckConstraint(
                condition=models.Q(is_banned=False) | models.Q(banned_at__isnull=False),
                name="user_banned_has_timestamp",
            ),
        ]

    def __str__(self):
        return self.email

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self):
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self):
        return self.first_name

    @property
    def public_name(self) -> str:
        """How a winner is named in public: first name and last initial."""
        initial = f" {self.last_name[:1]}." if self.last_name else ""
        return f"{self.first_name}{initial}"

    def age(self, on: date | None = None) -> int | None:
        if self.date_of_birth is None:
            return None
        return age_on(self.date_of_birth, on or timezone.localdate())

    def is_of_age(self, on: date | None = None) -> bool:
        age = self.age(on)
        return age is not None and age >= settings.FAIRDRAW_MINIMUM_AGE

    def is_excluded(self, now=None) -> bool:
        """A break, self-exclusion or closure in force at `now`."""
        if not self.exclusion_kind:
            return False
        if self.exclusion_kind == ExclusionKind.CLOSED:
            return True
        return self.excluded_until is not None and (now or timezone.now()) < self.excluded_until

    def may_purchase(self, now=None, operator=None) -> bool:
        """Active, not banned, 18+ and not excluded at `now` (default: the clock), and age
        verified by staff if the operator requires it (`operator`: the OperatorSettings row a
        purchase has already read; default: read it)."""
        return self._in_good_standing(now) and not self._age_check_outstanding(operator)

    def awaits_age_verification(self, now=None, operator=None) -> bool:
        """Only the operator's age check stands between this customer and a purchase: they
        are in good standing, the operator requires verification and staff have not made it."""
        return self._in_good_standing(now) and self._age_check_outstanding(operator)

    def _in_good_standing(self, now) -> bool:
        on = timezone.localdate(now) if now else None
        return (
            self.is_active
            and not self.is_banned
            and self.is_of_age(on)
            and not self.is_excluded(now)
        )

    def _age_check_outstanding(self, operator=None) -> bool:
        # Read last and only for the unverified: one primary-key query, never cached.
        if self.is_verified:
            return False
        return (operator or OperatorSettings.current()).require_age_verification

    @property
    def can_purchase(self) -> bool:
        return self.may_purchase()


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
        ordering = ["-at", "-id"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"
        indexes = [models.Index(fields=["content_type", "object_id"], name="audit_object_idx")]

    def __str__(self):
        return f"{self.action} {self.object_repr}"


class SpendLimit(models.Model):
    """One request by a customer (or staff for them) to set their monthly spending limit.

    The rows are the history the code of practice asks for: nothing is updated but
    `cancelled_at`, set when a later request supersedes one still waiting for its cooling-off.
    The limit in force is the latest request already effective (accounts.limits)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="spend_limits"
    )
    monthly_limit = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Blank: no personal limit (the operator's cap still applies).",
    )
    requested_at = models.DateTimeField(default=timezone.now)
    effective_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(monthly_limit__isnull=True) | models.Q(monthly_limit__gte=0),
                name="spendlimit_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(effective_at__gte=models.F("requested_at")),
                name="spendlimit_effective_after_request",
            ),
        ]
        indexes = [models.Index(fields=["user", "effective_at"], name="spendlimit_user_idx")]

    def __str__(self):
        shown = "no limit" if self.monthly_limit is None else f"£{self.monthly_limit}"
        return f"{self.user} {shown} from {self.effective_at:%Y-%m-%d %H:%M}"


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
        places that change the settings (admin, accounts.operator), never for readers."""
        row, _ = cls.objects.get_or_create(pk=1, defaults=cls.defaults())
        return row


# ---------------------------------------------------------------- complaints

# No 0/O, 1/I: references are read out over the phone.
REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_reference(prefix: str, length: int = 8) -> str:
    """A random reference a customer can quote: `prefix` and `length` unambiguous characters."""
    return prefix + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(length))


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
        ordering = ["at", "id"]

    def __str__(self):
        return f"{self.complaint} {self.get_kind_display()}"


# ---------------------------------------------------------------- harm signals


class HarmFlag(models.Model):
    """A customer flagged by one of the harm-signal rules, for staff to review.

    At most one open flag per customer and rule: a rule that fires again updates the open flag
    (`last_seen_at`, `detail`) rather than adding another. Staff close it with an outcome."""

    class Rule(models.TextChoices):
        ENTRIES_PER_DAY = "entries_per_day", "Many entries in one day"
        SPEND_VS_LIMIT = "spend_vs_limit", "Spend close to the monthly limit"
        LIMIT_RAISED = "limit_raised", "Limit raised repeatedly"
        DECLINED_PAYMENTS = "declined_payments", "Many declined payments"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACTIONED = "actioned", "Actioned"
        DISMISSED = "dismissed", "Dismissed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="harm_flags"
    )
    rule = models.CharField(max_length=20, choices=Rule.choices)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    detail = models.CharField(max_length=255)
    value = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    threshold = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "rule"],
                condition=models.Q(status="open"),
                name="harmflag_one_open_per_rule",
            ),
            models.CheckConstraint(
                condition=models.Q(status="open") | models.Q(closed_at__isnull=False),
                name="harmflag_closed_has_timestamp",
            ),
        ]

    def __str__(self):
        return f"{self.user}: {self.get_rule_display()}"


class HarmAction(models.Model):
    """A note or action by staff about a flagged customer: the action history."""

    class Kind(models.TextChoices):
        NOTE = "note", "Note"
        CONTACTED = "contacted", "Contacted the customer"
        LIMIT_SET = "limit_set", "Spend limit set"
        BREAK = "break", "Break or exclusion applied"
        ACTIONED = "actioned", "Flag closed: actioned"
        DISMISSED = "dismissed", "Flag closed: no action needed"
        REOPENED = "reopened", "Flag reopened"

    flag = models.ForeignKey(
        HarmFlag, on_delete=models.CASCADE, null=True, blank=True, related_name="actions"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="harm_actions"
    )
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.NOTE)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.user}: {self.get_kind_display()}"
