"""Back-office actions on customers' age verification, used by UserAdmin (accounts/admin.py;
registered with its cross-domain panels as CustomerAdmin in backoffice/admin.py).

"Verify age" first asks how the age was checked (and a note when the method is "other"),
then records it through accounts.services.user_verify; "Withdraw age verification" asks why.
Both are audited by the services."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import ngettext

from core.admin_helpers import CONFIRMED, confirm_page, is_confirmed

from .models import VerificationMethod
from .services import user_unverify, user_verify


class VerifyAgeForm(forms.Form):
    method = forms.ChoiceField(
        label="How was the age checked?",
        choices=VerificationMethod.choices,
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label="Note",
        required=False,
        max_length=255,
        help_text="What you checked, e.g. the document’s type and last four characters. "
        "Required for “Other”.",
        widget=forms.TextInput(attrs={"size": 60}),
    )

    def clean(self):
        cleaned = super().clean()
        if (
            cleaned.get("method") == VerificationMethod.OTHER
            and not cleaned.get("note", "").strip()
        ):
            self.add_error("note", "Say how the age was checked.")
        return cleaned


def _describe(user) -> str:
    born = user.date_of_birth
    if born is None:
        return f"{user.email} ({user.get_full_name()}) — no date of birth on the account"
    return f"{user.email} ({user.get_full_name()}) — born {born:%-d %B %Y}, aged {user.age()}"


def _describe_verification(user) -> str:
    when = f" on {timezone.localtime(user.verified_at):%-d %b %Y}" if user.verified_at else ""
    how = f" ({user.get_verification_method_display()})" if user.verification_method else ""
    return f"{user.email} — verified{when}{how}"


@admin.action(description="Verify age of selected users…", permissions=["change"])
def verify_age(model_admin, request, queryset):
    users = list(queryset.order_by("email"))
    to_verify = [u for u in users if not u.is_verified]
    already = [u for u in users if u.is_verified]
    form = VerifyAgeForm(request.POST if is_confirmed(request) else None)
    if not to_verify:
        model_admin.message_user(
            request, "Every selected customer is already verified.", messages.WARNING
        )
        return None
    if not form.is_bound or not form.is_valid():
        opts = model_admin.model._meta
        context = {
            **model_admin.admin_site.each_context(request),
            "title": "Verify age",
            "opts": opts,
            "form": form,
            "items": [_describe(u) for u in to_verify],
            "already": [u.email for u in already],
            "today": timezone.localdate(),
            "action": "verify_age",
            "selected": [str(u.pk) for u in users],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "confirmed_name": CONFIRMED,
            "media": model_admin.media + form.media,
        }
        request.current_app = model_admin.admin_site.name
        return TemplateResponse(request, "admin/accounts/user/verify_age.html", context)

    verified = 0
    for user in to_verify:
        try:
            user_verify(
                user=user,
                by=request.user,
                method=form.cleaned_data["method"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as refusal:
            model_admin.message_user(request, f"{user}: {refusal.messages[0]}", messages.ERROR)
            continue
        verified += 1
    if verified:
        model_admin.message_user(
            request,
            ngettext("Verified the age of %d user.", "Verified the age of %d users.", verified)
            % verified,
            messages.SUCCESS,
        )
    return None


@admin.action(description="Withdraw age verification of selected users", permissions=["change"])
def unverify_age(model_admin, request, queryset):
    users = list(queryset.filter(is_verified=True).order_by("email"))
    if not users:
        model_admin.message_user(request, "None of the selected users is verified.")
        return None
    if not is_confirmed(request):
        return confirm_page(
            model_admin,
            request,
            queryset.filter(is_verified=True),
            action="unverify_age",
            title="Withdraw age verification?",
            items=[_describe_verification(u) for u in users],
            summary="If the operator requires age verification, these customers can’t buy "
            "tickets until their age is verified again.",
            reason_label="Why is the verification withdrawn? (kept in the audit log)",
            button="Withdraw verification",
        )
    withdrawn = 0
    for user in users:
        try:
            user_unverify(user=user, by=request.user, reason=request.POST.get("reason", ""))
        except ValidationError as refusal:
            model_admin.message_user(request, f"{user}: {refusal.messages[0]}", messages.ERROR)
            return None
        withdrawn += 1
    model_admin.message_user(
        request,
        ngettext(
            "Withdrew the age verification of %d user.",
            "Withdrew the age verification of %d users.",
            withdrawn,
        )
        % withdrawn,
        messages.SUCCESS,
    )
    return None
