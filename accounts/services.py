"""Customer accounts: signing up and keeping one's details up to date.

Every rule about who may hold an account lives here (18+, a unique e-mail whatever its case,
a phone number we can text), so the sign-up page, the profile page and any future caller
enforce the same thing. Rule failures raise Django's ValidationError keyed by field, which a
form turns into messages beside the right inputs.
"""

from datetime import date

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import audit_record, audit_snapshot
from core.phones import phone_to_e164

from . import events as notify
from .models import User, age_on

EMAIL_TAKEN = "An account with this e-mail address already exists. Log in or reset your password."


def normalise_email(email: str) -> str:
    return User.objects.normalize_email((email or "").strip()).lower()


def check_of_age(date_of_birth: date, today: date | None = None) -> None:
    """Refuse anyone under the minimum age (18) on `today`, UK time by default, and a date of
    birth no living person has (older than FAIRDRAW_MAXIMUM_AGE: year 1 is a typing slip)."""
    today = today or timezone.localdate()
    minimum = settings.FAIRDRAW_MINIMUM_AGE
    if date_of_birth > today:
        raise ValidationError("Your date of birth can’t be in the future.", code="future")
    if age_on(date_of_birth, today) > settings.FAIRDRAW_MAXIMUM_AGE:
        raise ValidationError(
            f"Check the year of your date of birth: {date_of_birth.year} would make you "
            f"over {settings.FAIRDRAW_MAXIMUM_AGE}.",
            code="implausible",
        )
    if age_on(date_of_birth, today) < minimum:
        raise ValidationError(
            f"You must be {minimum} or over to open an account and enter.", code="underage"
        )


def _for_field(name: str, check, *args):
    """Run a rule, filing its error under the form field it belongs to."""
    try:
        return check(*args)
    except ValidationError as error:
        raise ValidationError({name: error.error_list}) from None


@transaction.atomic
def user_register(
    *,
    email: str,
    password: str,
    first_name: str,
    last_name: str,
    date_of_birth: date,
    phone: str,
    marketing_consent: bool = False,
    now=None,
) -> User:
    """Open a customer account after checking every sign-up rule on the server.

    A taken address fails with code "email_taken". The sign-up page never shows that error: it
    answers a taken address with allauth's enumeration-safe flow (accounts.views.SignupView),
    so only callers that may know (staff, commands) ever see it."""
    now = now or timezone.now()
    email = normalise_email(email)
    errors: dict[str, list] = {}
    if User.objects.filter(email__iexact=email).exists():
        errors["email"] = [ValidationError(EMAIL_TAKEN, code="email_taken")]
    try:
        _for_field("date_of_birth", check_of_age, date_of_birth, timezone.localdate(now))
    except ValidationError as error:
        errors.update(error.error_dict)
    try:
        phone = _for_field("phone", phone_to_e164, phone)
    except ValidationError as error:
        errors.update(error.error_dict)

    user = User(
        email=email,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        date_of_birth=date_of_birth,
        phone=phone,
        marketing_consent=marketing_consent,
        marketing_consent_at=now if marketing_consent else None,
        date_joined=now,
    )
    try:
        validate_password(password, user)
    except ValidationError as error:
        errors["password1"] = error.error_list
    if errors:
        raise ValidationError(errors)

    user.set_password(password)
    try:
        # A savepoint, so losing a race for the same e-mail leaves the outer transaction usable.
        with transaction.atomic():
            user.save()
            # The address to confirm before the first purchase (allauth sends the link).
            EmailAddress.objects.create(user=user, email=email, primary=True, verified=False)
            if user.marketing_consent:
                notify.profile_updated(user)
    except IntegrityError:
        raise ValidationError({"email": ValidationError(EMAIL_TAKEN, code="email_taken")}) from None
    return user


@transaction.atomic
def user_email_verify(*, user: User) -> EmailAddress:
    """Record the customer's login address as confirmed, as following the e-mailed link does
    (demo accounts, the demo admin, accounts made by staff)."""
    address = EmailAddress.objects.filter(user=user, email__iexact=user.email).first()
    if address is None:
        address = EmailAddress(user=user, email=user.email)
    address.verified = address.primary = True
    address.save()
    return address


@transaction.atomic
def user_update_profile(
    *,
    user: User,
    first_name: str,
    last_name: str,
    phone: str,
    marketing_consent: bool,
    date_of_birth: date | None = None,
    now=None,
) -> User:
    """Change what a customer may change about themselves.

    The date of birth can be given once (accounts made by staff may lack it) and is then fixed:
    it is what proves a customer is old enough to enter."""
    now = now or timezone.now()
    user = User.objects.select_for_update().get(pk=user.pk)
    fields = ["first_name", "last_name", "phone"]
    user.first_name = first_name.strip()
    user.last_name = last_name.strip()
    user.phone = _for_field("phone", phone_to_e164, phone) if phone else ""
    if date_of_birth is not None and user.date_of_birth is None:
        _for_field("date_of_birth", check_of_age, date_of_birth, timezone.localdate(now))
        user.date_of_birth = date_of_birth
        fields.append("date_of_birth")
    if marketing_consent and user.is_excluded(now):
        raise ValidationError(
            {
                "marketing_consent": "We can’t send you marketing while your break or "
                "self-exclusion is in force."
            }
        )
    if marketing_consent != user.marketing_consent:
        # The time consent was given is the record a regulator asks for; withdrawing clears it.
        user.marketing_consent = marketing_consent
        user.marketing_consent_at = now if marketing_consent else None
        fields += ["marketing_consent", "marketing_consent_at"]
    user.save(update_fields=fields)
    if "marketing_consent" in fields:
        notify.profile_updated(user)
    return user


# ---------------------------------------------------------------- back-office: bans and age checks

BAN_FIELDS = ("is_banned", "banned_at", "ban_reason")
VERIFY_FIELDS = (
    "is_verified",
    "verified_at",
    "verification_method",
    "verification_note",
    "verified_by",
)


@transaction.atomic
def user_ban(*, user: User, by, reason: str, now=None) -> User:
    """Ban a customer: they can no longer log in (accounts.backends) nor buy (can_purchase)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"ban_reason": "Say why the account is banned."})
    user = User.objects.select_for_update().get(pk=user.pk)
    before = audit_snapshot(user, BAN_FIELDS)
    user.is_banned = True
    user.banned_at = now or timezone.now()
    user.ban_reason = reason[:255]
    user.save(update_fields=list(BAN_FIELDS))
    audit_record(
        actor=by, action="user.ban", obj=user, before=before, after=audit_snapshot(user, BAN_FIELDS)
    )
    return user


@transaction.atomic
def user_unban(*, user: User, by, note: str = "") -> User:
    user = User.objects.select_for_update().get(pk=user.pk)
    before = audit_snapshot(user, BAN_FIELDS)
    user.is_banned = False
    user.banned_at = None
    user.ban_reason = ""
    user.save(update_fields=list(BAN_FIELDS))
    audit_record(
        actor=by,
        action="user.unban",
        obj=user,
        before=before,
        after=audit_snapshot(user, BAN_FIELDS),
        note=note,
    )
    return user


@transaction.atomic
def user_verify(*, user: User, by, method: str, note: str = "", now=None) -> User:
    """Record that staff checked the customer's age (and identity), and how.

    The method is required, and a note saying what was checked when the method is "other".
    A customer already verified is refused: revoke first to record a different check."""
    from .models import VerificationMethod

    note = (note or "").strip()
    if method not in VerificationMethod.values:
        raise ValidationError({"verification_method": "Choose how the age was checked."})
    if method == VerificationMethod.OTHER and not note:
        raise ValidationError({"verification_note": "Say how the age was checked."})
    if len(note) > 255:
        raise ValidationError({"verification_note": "Keep the note to 255 characters."})
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.is_verified:
        raise ValidationError(
            "This customer is already verified; revoke the verification first to record a "
            "different check.",
            code="already_verified",
        )
    if user.date_of_birth is None:
        raise ValidationError(
            "There is no date of birth on this account: add the one you checked first.",
            code="no_birth_date",
        )
    if not user.is_of_age(timezone.localdate(now)):
        raise ValidationError(
            f"By the date of birth on the account this customer is under "
            f"{settings.FAIRDRAW_MINIMUM_AGE}, so their age can’t be verified.",
            code="underage",
        )
    before = audit_snapshot(user, VERIFY_FIELDS)
    user.is_verified = True
    user.verified_at = now or timezone.now()
    user.verification_method = method
    user.verification_note = note
    user.verified_by = by if getattr(by, "pk", None) else None
    user.save(update_fields=list(VERIFY_FIELDS))
    audit_record(
        actor=by,
        action="user.verify",
        obj=user,
        before=before,
        after=audit_snapshot(user, VERIFY_FIELDS),
        note=note,
    )
    return user


@transaction.atomic
def user_unverify(*, user: User, by, reason: str) -> User:
    """Withdraw an age verification (made in error, or the document turned out to be wrong).
    If the operator requires verification, the customer cannot buy again until re-verified."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the verification is withdrawn."})
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_verified:
        raise ValidationError("This customer is not verified.", code="not_verified")
    before = audit_snapshot(user, VERIFY_FIELDS)
    user.is_verified = False
    user.verified_at = None
    user.verification_method = ""
    user.verification_note = ""
    user.verified_by = None
    user.save(update_fields=list(VERIFY_FIELDS))
    audit_record(
        actor=by,
        action="user.unverify",
        obj=user,
        before=before,
        after=audit_snapshot(user, VERIFY_FIELDS),
        note=reason,
    )
    return user


def support_email() -> str:
    """Where customers write to us: the address our own e-mails come from."""
    from email.utils import parseaddr

    return parseaddr(settings.DEFAULT_FROM_EMAIL)[1]


def age_verification_needed_message() -> str:
    """What an unverified customer is told when the operator requires an age check first."""
    return (
        "We need to verify your age before your first purchase. E-mail us at "
        f"{support_email()} from the address on your account and we’ll tell you how to prove "
        "your age (usually a passport or driving licence). Once we’ve checked it, you can buy "
        "tickets straight away."
    )
