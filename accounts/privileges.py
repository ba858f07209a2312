"""Who may change what about an account in the back-office, and the audited changes themselves.

Least privilege: only a superuser makes staff, changes groups, permissions, the staff or
superuser flag, or touches a staff account at all (its details, its password, a ban). Anyone
else with the accounts permissions (Operations) manages customers only; Support only looks.
The admin (accounts.admin) hides and refuses what these rules refuse, and these services check
again, so a forged request changes nothing.

Every change to a privilege or to a password made by staff writes an audit entry, inside its
transaction; the password itself never reaches the log (core.audit masks it anyway).
"""

from collections.abc import Iterable

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.db import transaction

from core.audit import audit_record

from .models import User

# The fields that say what an account may do. Only superusers see or change them (a customer
# is shut out with a ban, which says why: accounts.services.user_ban).
PRIVILEGE_FLAGS = ("is_active", "is_staff", "is_superuser")
PRIVILEGE_RELATIONS = ("groups", "user_permissions")
PRIVILEGE_FIELDS = (*PRIVILEGE_FLAGS, *PRIVILEGE_RELATIONS)


def is_privileged(user: User) -> bool:
    """A staff or superuser account: one that can reach the back-office."""
    return bool(user.is_staff or user.is_superuser)


def may_manage(*, by, user: User) -> bool:
    """Whether `by` may change `user`'s account (details, password, ban) in the back-office.
    Customers: anyone with the accounts permissions. Staff accounts: superusers only."""
    return bool(getattr(by, "is_superuser", False)) or not is_privileged(user)


def may_grant(*, by) -> bool:
    """Whether `by` may make staff or change anyone's groups, permissions or flags."""
    return bool(getattr(by, "is_superuser", False))


def privileges_snapshot(user: User) -> dict:
    """What the account may do, as the audit log records it (names, not ids)."""
    return {
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "user_permissions": sorted(
            f"{app}.{codename}"
            for app, codename in user.user_permissions.values_list(
                "content_type__app_label", "codename"
            )
        ),
    }


@transaction.atomic
def user_set_privileges(
    *,
    user: User,
    by,
    is_active: bool,
    is_staff: bool,
    is_superuser: bool,
    groups: Iterable[Group],
    user_permissions: Iterable[Permission],
) -> User:
    """Set what an account may do in the back-office. Superusers only; audited when it changes
    anything ("user.privileges", before and after)."""
    if not may_grant(by=by):
        raise PermissionDenied(
            "Only a superuser can change whether an account is active or staff, its groups or "
            "its permissions."
        )
    user = User.objects.select_for_update().get(pk=user.pk)
    before = privileges_snapshot(user)
    user.is_active = bool(is_active)
    user.is_staff = bool(is_staff)
    user.is_superuser = bool(is_superuser)
    user.save(update_fields=list(PRIVILEGE_FLAGS))
    user.groups.set(list(groups))
    user.user_permissions.set(list(user_permissions))
    after = privileges_snapshot(user)
    if after != before:
        audit_record(actor=by, action="user.privileges", obj=user, before=before, after=after)
    return user


@transaction.atomic
def user_set_password_by_staff(*, user: User, by, password: str | None) -> User:
    """Staff set (or, with None, disable) an account's password. A staff account's only by a
    superuser. Audited as "user.password_set" or "user.password_disabled", never the value."""
    if not may_manage(by=by, user=user):
        raise PermissionDenied("Only a superuser can set a staff member’s password.")
    user = User.objects.select_for_update().get(pk=user.pk)
    if password is None:
        user.set_unusable_password()
        action, note = "user.password_disabled", "Password login disabled by staff."
    else:
        user.set_password(password)
        action, note = "user.password_set", "Password set by staff."
    user.save(update_fields=["password"])
    audit_record(actor=by, action=action, obj=user, note=note)
    return user


@transaction.atomic
def user_create_by_staff(*, user: User, by) -> User:
    """Save an account made in the back-office (its password already hashed by the form).
    What staff create is a customer: staff status and groups come afterwards, from a superuser
    (user_set_privileges). Audited as "user.create"."""
    if is_privileged(user) and not may_grant(by=by):
        raise PermissionDenied("Only a superuser can create staff accounts.")
    user.save()
    audit_record(
        actor=by,
        action="user.create",
        obj=user,
        after=privileges_snapshot(user),
        note="Created with a password."
        if user.has_usable_password()
        else "Created without password login.",
    )
    return user
