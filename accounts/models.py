from datetime import date

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from core.models import OperatorSettings


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
