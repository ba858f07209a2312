"""The identity half of the customer's admin page: the account's own fields, its forms (e-mail
is the login) and the actions on it (ban, unban, verify age, withdraw verification), each
calling an audited service in accounts.services.

Least privilege (accounts.privileges): only superusers see and change what an account may do
(active, staff, superuser, groups, permissions) or touch a staff account at all; for anyone
else those fields are not on the form, so a forged POST has nothing to bind to, and staff
accounts are read-only (their password page answers 403). Privileges and passwords set here
go through audited services, never the generic model save.

Not registered here: the page staff use also shows the customer's tickets, orders, spend
limits and harm flags, which live in apps above accounts. backoffice/admin.py registers
`CustomerAdmin`, this class plus those panels, so accounts imports nothing above it
(docs/architecture.md §1). The admin URLs stay `admin:accounts_user_*` (the model is ours).
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.utils.translation import ngettext

from core.admin_helpers import confirm_page, is_confirmed

from .admin_verification import unverify_age, verify_age
from .models import User
from .privileges import (
    PRIVILEGE_FIELDS,
    PRIVILEGE_FLAGS,
    PRIVILEGE_RELATIONS,
    may_grant,
    may_manage,
    user_create_by_staff,
    user_set_password_by_staff,
    user_set_privileges,
)
from .services import user_ban, user_unban


class EmailFieldMixin:
    """E-mail is the login: store it lower-case and refuse one that differs only in case
    (the database's case-insensitive unique index would otherwise answer with a bare error)."""

    def clean_email(self):
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        if User.objects.filter(email__iexact=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("A user with that e-mail address already exists.")
        return email


class UserCreationForm(EmailFieldMixin, auth_forms.AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "first_name")


class UserChangeForm(EmailFieldMixin, auth_forms.UserChangeForm):
    class Meta:
        model = User
        fields = ("email", "first_name")


# Bans and age verification go through the account services (audited), via the actions.
STATUS_BY_ACTION = (
    "is_verified",
    "verified_at",
    "verification_method",
    "verified_by",
    "verification_note",
    "is_banned",
    "banned_at",
    "ban_reason",
)


# The account's own fieldsets; CustomerAdmin (backoffice/admin.py) appends its panels.
IDENTITY_FIELDSETS = (
    (None, {"fields": ("email", "password")}),
    ("Personal info", {"fields": ("first_name", "last_name", "phone", "date_of_birth")}),
    (
        "Status",
        {
            "fields": (
                ("is_verified", "verified_at"),
                ("verification_method", "verified_by"),
                "verification_note",
                ("is_banned", "banned_at"),
                "ban_reason",
                ("marketing_consent", "marketing_consent_at"),
            )
        },
    ),
    (
        "Responsible play",
        {"fields": (("exclusion_kind", "excluded_at", "excluded_until"),)},
    ),
    (
        "Permissions",
        {
            "classes": ("collapse",),
            "fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions"),
        },
    ),
    ("Important dates", {"fields": ("last_login", "date_joined")}),
)


def fieldsets_without(fieldsets, hidden) -> list:
    """`fieldsets` less the fields named in `hidden` (also inside a line of several), dropping
    any fieldset left empty."""
    kept = []
    for name, options in fieldsets:
        lines = []
        for line in options.get("fields", ()):
            if isinstance(line, (list, tuple)):
                line = tuple(field for field in line if field not in hidden)
                if line:
                    lines.append(line if len(line) > 1 else line[0])
            elif line not in hidden:
                lines.append(line)
        if lines:
            kept.append((name, {**options, "fields": tuple(lines)}))
    return kept


class UserAdmin(DjangoUserAdmin):
    """The account alone: usable by any admin site that wants users without the domain."""

    form = UserChangeForm
    add_form = UserCreationForm
    fieldsets = IDENTITY_FIELDSETS
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "first_name", "usable_password", "password1", "password2"),
            },
        ),
    )
    readonly_fields = (
        "last_login",
        "date_joined",
        *STATUS_BY_ACTION,
        # Set only by the customer's own choice (responsible_play.services), never lifted
        # early here.
        "exclusion_kind",
        "excluded_at",
        "excluded_until",
    )
    actions = ("ban", "unban", verify_age, unverify_age)
    list_display = ("email", "name", "is_verified", "is_banned", "is_staff", "date_joined")
    list_filter = (
        "is_verified",
        "is_banned",
        "marketing_consent",
        "is_staff",
        "is_superuser",
        "is_active",
        "groups",
    )
    search_fields = ("email", "first_name", "last_name", "phone")
    ordering = ("email",)
    date_hierarchy = "date_joined"

    @admin.display(description="name", ordering="last_name")
    def name(self, obj):
        return obj.get_full_name()

    # ------------------------------------------------------------ least privilege

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if may_grant(by=request.user):
            return fieldsets
        return fieldsets_without(fieldsets, PRIVILEGE_FIELDS)

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or may_manage(by=request.user, user=obj))

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or may_manage(by=request.user, user=obj))

    def save_model(self, request, obj, form, change):
        if not change:
            user_create_by_staff(user=obj, by=request.user)
            return
        # The generic save never writes privileges, whatever was posted: save_related hands
        # them to the audited service (superusers only).
        stored = User.objects.only(*PRIVILEGE_FLAGS).get(pk=obj.pk)
        for flag in PRIVILEGE_FLAGS:
            setattr(obj, flag, getattr(stored, flag))
        obj.save()

    def save_related(self, request, form, formsets, change):
        requested = {
            name: form.cleaned_data.pop(name)
            for name in PRIVILEGE_FIELDS
            if name in form.cleaned_data and name in form.fields
        }
        super().save_related(request, form, formsets, change)
        if change and requested:
            user = form.instance
            current = {
                **{flag: getattr(user, flag) for flag in PRIVILEGE_FLAGS},
                **{name: getattr(user, name).all() for name in PRIVILEGE_RELATIONS},
            }
            user_set_privileges(user=user, by=request.user, **{**current, **requested})
            for flag in PRIVILEGE_FLAGS:
                setattr(user, flag, requested.get(flag, current[flag]))

    def user_change_password(self, request, id, form_url=""):
        """Django's page, with a staff account's password out of bounds for non-superusers
        (403) and the new password saved by the audited service."""
        user = self.get_object(request, unquote(id))
        if user is not None and not may_manage(by=request.user, user=user):
            raise PermissionDenied
        if request.method == "POST" and user is not None:
            if not self.has_change_permission(request, user):
                raise PermissionDenied
            form = self.change_password_form(user, request.POST)
            usable = form.is_valid() and form.cleaned_data["set_usable_password"]
            if form.is_valid() and (usable or "unset-password" in request.POST):
                user = user_set_password_by_staff(
                    user=user,
                    by=request.user,
                    password=form.cleaned_data["password1"] if usable else None,
                )
                self.log_change(request, user, self.construct_change_message(request, form, None))
                messages.success(
                    request,
                    "Password changed successfully."
                    if usable
                    else "Password-based authentication was disabled.",
                )
                if user.pk == request.user.pk:
                    update_session_auth_hash(request, user)
                return redirect(f"{self.admin_site.name}:accounts_user_change", user.pk)
        # Showing the form, or showing its errors.
        return super().user_change_password(request, id, form_url)

    @admin.action(description="Ban selected users", permissions=["change"])
    def ban(self, request, queryset):
        if not is_confirmed(request):
            return confirm_page(
                self,
                request,
                queryset,
                action="ban",
                title="Ban these accounts?",
                items=[f"{u.email} ({u.get_full_name()})" for u in queryset],
                summary="A banned customer can neither log in nor buy tickets.",
                reason_label="Reason (kept on the account and in the audit log)",
                button="Ban",
            )
        reason = request.POST.get("reason", "")
        banned = 0
        for user in queryset:
            if user == request.user:
                self.message_user(request, "You cannot ban yourself.", messages.ERROR)
                continue
            if not may_manage(by=request.user, user=user):
                self.message_user(
                    request, f"{user}: only a superuser can ban a staff member.", messages.ERROR
                )
                continue
            try:
                user_ban(user=user, by=request.user, reason=reason)
            except ValidationError as refusal:
                self.message_user(request, f"{user}: {refusal.messages[0]}", messages.ERROR)
                return None
            banned += 1
        if banned:
            self.message_user(
                request,
                ngettext("Banned %d user.", "Banned %d users.", banned) % banned,
                messages.SUCCESS,
            )
        return None

    @admin.action(description="Unban selected users", permissions=["change"])
    def unban(self, request, queryset):
        count = 0
        for user in queryset.filter(is_banned=True):
            user_unban(user=user, by=request.user)
            count += 1
        self.message_user(
            request, ngettext("Unbanned %d user.", "Unbanned %d users.", count) % count
        )
