"""The identity half of the customer's admin page: the account's own fields, its forms (e-mail
is the login) and the actions on it (ban, unban, verify age, withdraw verification), each
calling an audited service in accounts.services.

Not registered here: the page staff use also shows the customer's tickets, orders, spend
limits and harm flags, which live in apps above accounts. backoffice/admin.py registers
`CustomerAdmin`, this class plus those panels, so accounts imports nothing above it
(docs/architecture.md §1). The admin URLs stay `admin:accounts_user_*` (the model is ours).
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.utils.translation import ngettext

from core.admin_helpers import confirm_page, is_confirmed

from .admin_verification import unverify_age, verify_age
from .models import User
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
