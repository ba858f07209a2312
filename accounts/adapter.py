"""Fairdraw's side of django-allauth: accounts are opened through accounts.services (every
sign-up rule lives there), messages speak our language, and where a customer lands after
signing up (the monthly-limit prompt, then where they were going)."""

from allauth.account.adapter import DefaultAccountAdapter
from django.contrib import messages
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from . import services


def safe_next(request) -> str | None:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


class AccountAdapter(DefaultAccountAdapter):
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "email_password_mismatch": "That e-mail address and password don’t match an account. "
        "Check them and try again.",
        "email_taken": services.EMAIL_TAKEN,
        "banned": "This account has been suspended, so it can’t log in or enter competitions. "
        "Please contact our support team.",
        "too_many_login_attempts": "Too many wrong passwords for this account. For your "
        "security, logging in is paused for 15 minutes: try again then, or reset your password.",
        "rate_limited": "Too many attempts in a short time. Please wait a few minutes and try "
        "again.",
    }

    def authenticate(self, request, **credentials):
        """allauth hands back a user whose password matched but whom the backend refused
        (accounts.backends: banned); a banned customer is told why, never logged in."""
        user = super().authenticate(request, **credentials)
        if user is not None and user.is_banned:
            raise self.validation_error("banned")
        return user

    def save_user(self, request, user, form, commit=True):
        """Open the account through the service, which checks every rule again and records the
        address to confirm. `user` (allauth's blank instance) is not used."""
        data = form.cleaned_data
        user = services.user_register(
            email=data["email"],
            password=data["password1"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            date_of_birth=data["date_of_birth"],
            phone=data["phone"],
            marketing_consent=data.get("marketing_consent", False),
        )
        messages.success(request, f"Welcome to Fairdraw, {user.first_name}! You’re logged in.")
        return user

    def get_signup_redirect_url(self, request):
        # Responsible play: offer a monthly limit before the first purchase; the limits page
        # then sends the customer on to where they were going.
        query = {"welcome": "1"}
        if safe_next(request):
            query["next"] = safe_next(request)
        return f"{reverse('accounts:limits')}?{urlencode(query)}"
