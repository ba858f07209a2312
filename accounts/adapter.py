"""Fairdraw's side of django-allauth: accounts are opened through accounts.services (every
sign-up rule lives there), messages speak our language, and where a new customer lands once
the e-mailed link has confirmed their address and logged them in (the monthly-limit prompt,
then where they were going)."""

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
        return user

    def get_signup_redirect_url(self, request):
        """Where sign-up sends the customer once the link has logged them in (allauth keeps it
        with the pending log-in until then)."""
        return welcome_url(safe_next(request))

    def post_login(self, request, user, *, signup, **kwargs):
        # With verification mandatory a sign-up only logs in here, after the link is opened.
        response = super().post_login(request, user, signup=signup, **kwargs)
        if signup:
            messages.success(request, f"Welcome to Fairdraw, {user.first_name}! You’re logged in.")
        return response

    def get_email_verification_redirect_url(self, email_address):
        """A link opened in another browser confirms without logging in (allauth logs in only
        the browser that signed up): a customer who has never logged in goes through the log-in
        page on to the monthly-limit prompt, as a sign-up would have."""
        if not self.request.user.is_authenticated and email_address.user.last_login is None:
            return f"{reverse('accounts:login')}?{urlencode({'next': welcome_url()})}"
        return super().get_email_verification_redirect_url(email_address)


def welcome_url(next_url: str | None = None) -> str:
    """The monthly-limit prompt a new customer sees first (responsible play: a limit before the
    first purchase); it links on to where they were going."""
    query = {"welcome": "1"}
    if next_url:
        query["next"] = next_url
    return f"{reverse('accounts:limits')}?{urlencode(query)}"
