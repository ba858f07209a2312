"""The operator's responsible-play settings (accounts.models.OperatorSettings): who may change
them, what values make sense, and the one way to change them (audited).

Every reader goes through `OperatorSettings.current()`, which is one primary-key query, never
writes and is not cached: a purchase reads the cap inside its own transaction, and a change made
in admin is in force for the very next request on every worker."""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from .audit import audit_record, audit_snapshot
from .models import OperatorSettings

# The staff group allowed to change the settings besides superusers (accounts/groups.py).
OPERATIONS_GROUP = "Operations"

EDITABLE_FIELDS = (
    "monthly_spend_cap",
    "limit_cooling_off_hours",
    "credit_card_monthly_cap",
    "require_age_verification",
    "min_open_clear_days",
    "skill_warning_wrong_percent",
    "skill_warning_min_answers",
    "harm_entries_per_day",
    "harm_spend_share_percent",
    "harm_limit_raises",
    "harm_declined_payments",
    "complaint_response_days",
    "complaint_resolution_days",
)
MONEY_FIELDS = ("monthly_spend_cap", "credit_card_monthly_cap")
MAX_AMOUNT = Decimal("99999999.99")
# Raising a limit must never be instant: a day is the least that gives a customer time to think.
MIN_COOLING_OFF_HOURS = 24
MAX_COOLING_OFF_HOURS = 24 * 30
MAX_OPEN_CLEAR_DAYS = 90
MAX_COMPLAINT_DAYS = 56  # eight weeks, the longest a complaint may wait for a final answer


def operator_settings_may_change(user) -> bool:
    """Superusers and the Operations group change the settings; other staff may at most look."""
    if user is None or not user.is_active or not user.is_staff:
        return False
    return user.is_superuser or user.groups.filter(name=OPERATIONS_GROUP).exists()


def _amount(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValidationError("Enter an amount in pounds, e.g. 250.00.") from None


def operator_settings_check(values: dict) -> dict:
    """Check a complete set of values (the current ones with the changes applied) and return
    them cleaned. Raises ValidationError keyed by field, with messages an operator can act on."""
    cleaned = dict(values)
    errors: dict[str, str] = {}

    for name in MONEY_FIELDS:
        try:
            cleaned[name] = _amount(values.get(name))
        except ValidationError as error:
            errors[name] = error.messages[0]
    cap = cleaned.get("monthly_spend_cap")
    if "monthly_spend_cap" not in errors and cap is not None:
        if cap < 0:
            errors["monthly_spend_cap"] = (
                "The monthly cap can’t be negative. Leave it blank for none."
            )
        elif cap > MAX_AMOUNT:
            errors["monthly_spend_cap"] = "That cap is too large."
    card_cap = cleaned.get("credit_card_monthly_cap")
    if "credit_card_monthly_cap" not in errors:
        if card_cap is None:
            errors["credit_card_monthly_cap"] = (
                "Enter the credit-card cap (0.00 to refuse credit cards altogether)."
            )
        elif card_cap < 0:
            errors["credit_card_monthly_cap"] = "The credit-card cap can’t be negative."
        elif card_cap > MAX_AMOUNT:
            errors["credit_card_monthly_cap"] = "That cap is too large."

    def whole(name: str, low: int, high: int | None, message: str) -> None:
        value = values.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            try:
                value = int(str(value).strip())
            except (TypeError, ValueError):
                errors[name] = "Enter a whole number."
                return
        if value < low or (high is not None and value > high):
            errors[name] = message
            return
        cleaned[name] = value

    whole(
        "limit_cooling_off_hours",
        MIN_COOLING_OFF_HOURS,
        MAX_COOLING_OFF_HOURS,
        f"The cooling-off lasts from {MIN_COOLING_OFF_HOURS} hours to "
        f"{MAX_COOLING_OFF_HOURS // 24} days ({MAX_COOLING_OFF_HOURS} hours): raising a limit "
        "must never take effect at once.",
    )
    whole(
        "min_open_clear_days",
        0,
        MAX_OPEN_CLEAR_DAYS,
        f"Enter from 0 (no minimum) to {MAX_OPEN_CLEAR_DAYS} clear days.",
    )
    whole("skill_warning_wrong_percent", 0, 100, "Enter a rate from 0% (no warning) to 100%.")
    whole("skill_warning_min_answers", 1, None, "Judge after 1 or more answers.")
    for name, what in (
        ("harm_entries_per_day", "entries in a day"),
        ("harm_limit_raises", "limit raises"),
        ("harm_declined_payments", "declined payments"),
    ):
        whole(name, 1, None, f"Flag at 1 or more {what} (0 would flag every customer).")
    whole("harm_spend_share_percent", 1, 100, "Enter a share from 1% to 100%.")
    whole(
        "complaint_response_days",
        1,
        MAX_COMPLAINT_DAYS,
        f"Answer complaints within 1 to {MAX_COMPLAINT_DAYS} days.",
    )
    whole(
        "complaint_resolution_days",
        1,
        MAX_COMPLAINT_DAYS,
        f"Resolve complaints within 1 to {MAX_COMPLAINT_DAYS} days.",
    )
    if (
        "complaint_response_days" not in errors
        and "complaint_resolution_days" not in errors
        and cleaned["complaint_resolution_days"] < cleaned["complaint_response_days"]
    ):
        errors["complaint_resolution_days"] = (
            "A complaint can’t be resolved before its first response is due: make this at least "
            f"{cleaned['complaint_response_days']} days."
        )
    cleaned["require_age_verification"] = bool(values.get("require_age_verification"))
    if errors:
        raise ValidationError(errors)
    return cleaned


@transaction.atomic
def operator_settings_update(*, by, **changes) -> OperatorSettings:
    """Change some of the operator's settings. Checks the result as a whole (so a cap and its
    neighbours stay consistent), saves it and writes one audit entry with the values before
    and after. Returns the row; a call that changes nothing writes nothing."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"Not an operator setting: {', '.join(sorted(unknown))}")
    if not operator_settings_may_change(by):
        raise PermissionDenied("Only Operations staff can change the operator settings.")
    OperatorSettings.ensure()  # the row exists from here on
    row = OperatorSettings.objects.select_for_update().get(pk=1)
    before = audit_snapshot(row, EDITABLE_FIELDS)
    cleaned = operator_settings_check({**before, **changes})
    changed = [name for name in EDITABLE_FIELDS if cleaned[name] != before[name]]
    if not changed:
        return row
    for name in changed:
        setattr(row, name, cleaned[name])
    row.updated_by = by
    row.save(update_fields=[*changed, "updated_by", "updated_at"])
    audit_record(
        actor=by,
        action="operator_settings.update",
        obj=row,
        before={name: before[name] for name in changed},
        after=audit_snapshot(row, changed),
    )
    return row
