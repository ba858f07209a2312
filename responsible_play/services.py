"""Breaks, self-exclusion and closing an account (code of practice): each stops purchases
and marketing until it ends, and none can be shortened once in force."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts import events as notify
from accounts.models import User
from core.audit import audit_record, audit_snapshot

BREAK_DAYS = (1, 42)
SELF_EXCLUSION_MIN_MONTHS = 6
SELF_EXCLUSION_MAX_MONTHS = 60
EXCLUSION_FIELDS = ("exclusion_kind", "excluded_at", "excluded_until")


def _add_months(moment, months: int):
    """The same UK wall-clock time `months` later (the last day of a shorter month)."""
    import calendar

    local = timezone.localtime(moment)
    month_index = local.month - 1 + months
    year, month = local.year + month_index // 12, month_index % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return timezone.make_aware(local.replace(tzinfo=None, year=year, month=month, day=day))


@transaction.atomic
def _exclude(*, user: User, kind: str, until, by, now) -> User:
    """Stop purchases and marketing until `until` (None: for good). An exclusion in force is
    never shortened or softened: only the customer's own longer choice replaces it."""
    from accounts.models import ExclusionKind

    user = User.objects.select_for_update().get(pk=user.pk)
    shortening = user.exclusion_kind == ExclusionKind.CLOSED or (
        until is not None and user.excluded_until is not None and until < user.excluded_until
    )
    if user.is_excluded(now) and shortening:
        raise ValidationError(
            "You already have a longer break or exclusion in force; it can’t be shortened.",
            code="exclusion_in_force",
        )
    before = audit_snapshot(user, (*EXCLUSION_FIELDS, "marketing_consent"))
    user.exclusion_kind = kind
    user.excluded_at = now
    user.excluded_until = until
    fields = list(EXCLUSION_FIELDS)
    withdrew = user.marketing_consent
    if withdrew:
        # No marketing while excluded: withdraw consent here and at Klaviyo (e-mail and SMS).
        user.marketing_consent = False
        user.marketing_consent_at = None
        fields += ["marketing_consent", "marketing_consent_at"]
    user.save(update_fields=fields)
    if withdrew:
        notify.profile_updated(user)
    audit_record(
        actor=by or user,
        action=f"user.{kind}",
        obj=user,
        before=before,
        after=audit_snapshot(user, (*EXCLUSION_FIELDS, "marketing_consent")),
    )
    return user


def user_take_break(*, user: User, days: int, by=None, now=None) -> User:
    """A short pause from buying and marketing: 1 to 42 days."""
    from accounts.models import ExclusionKind

    low, high = BREAK_DAYS
    if not low <= days <= high:
        raise ValidationError(
            {"days": f"A break lasts from {low} to {high} days."}, code="break_length"
        )
    now = now or timezone.now()
    return _exclude(
        user=user, kind=ExclusionKind.BREAK, until=now + timedelta(days=days), by=by, now=now
    )


def user_self_exclude(*, user: User, months: int, by=None, now=None) -> User:
    """Self-exclusion for at least six months; the customer cannot lift it early."""
    from accounts.models import ExclusionKind

    if not SELF_EXCLUSION_MIN_MONTHS <= months <= SELF_EXCLUSION_MAX_MONTHS:
        raise ValidationError(
            {
                "months": f"Self-exclusion lasts from {SELF_EXCLUSION_MIN_MONTHS} to "
                f"{SELF_EXCLUSION_MAX_MONTHS} months."
            },
            code="exclusion_length",
        )
    now = now or timezone.now()
    return _exclude(
        user=user,
        kind=ExclusionKind.SELF_EXCLUSION,
        until=_add_months(now, months),
        by=by,
        now=now,
    )


def user_close_account(*, user: User, by=None, now=None) -> User:
    """Close the account for good: no purchases, no marketing. The customer can still log in
    to see their tickets and any prize they have won."""
    from accounts.models import ExclusionKind

    return _exclude(
        user=user, kind=ExclusionKind.CLOSED, until=None, by=by, now=now or timezone.now()
    )
