from django import forms
from django.contrib import admin
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from .models import User


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

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("is_banned") and not cleaned.get("banned_at"):
            self.add_error("banned_at", "Give the date and time of the ban.")
        return cleaned


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "phone", "date_of_birth")}),
        (
            "Status",
            {
                "fields": (
                    ("is_verified", "verified_at"),
                    ("is_banned", "banned_at"),
                    "ban_reason",
                    ("marketing_consent", "marketing_consent_at"),
                )
            },
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
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "first_name", "usable_password", "password1", "password2"),
            },
        ),
    )
    readonly_fields = ("last_login", "date_joined")
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
