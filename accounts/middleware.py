"""Staff security: a second factor before any admin page, and a working day's idle session.

- A member of staff without an activated authenticator app or passkey is sent from every admin
  page to set one up. Logging in to the admin goes through allauth's login (accounts.views
  `admin_login`), whose MFA step asks for the code of anyone who has one.
- A staff session ends after `FAIRDRAW_STAFF_SESSION_SECONDS` (8 h) without a request: each
  request moves the expiry on (saving the session), and a session idle for longer, even one
  from before this rule, is logged out. Customers keep SESSION_COOKIE_AGE.
"""

import time

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

SEEN_KEY = "fairdraw_staff_seen"
SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def has_second_factor(user) -> bool:
    return Authenticator.objects.filter(user_id=user.pk, type__in=SECOND_FACTORS).exists()


def staff_session_start(request) -> None:
    """A staff session lasts a working day from its last request."""
    request.session.set_expiry(settings.FAIRDRAW_STAFF_SESSION_SECONDS)
    request.session[SEEN_KEY] = int(time.time())


class StaffSecurityMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # No session cookie, nobody logged in: the session (and so Vary: Cookie) is left
        # untouched, so anonymous pages stay cacheable.
        if request.session.session_key:
            refused = self.check(request)
            if refused is not None:
                return refused
        response = self.get_response(request)
        # After the view, so it also overrides the expiry a login has just set.
        if request.session.session_key:
            user = request.user
            if user.is_authenticated and user.is_staff:
                staff_session_start(request)
        return response

    def check(self, request):
        user = request.user
        if not (user.is_authenticated and user.is_staff):
            return None
        seen = request.session.get(SEEN_KEY)
        if seen is not None and time.time() - seen > settings.FAIRDRAW_STAFF_SESSION_SECONDS:
            logout(request)
            messages.info(request, "You were logged out after a long time without activity.")
            return redirect(f"{reverse('account_login')}?{urlencode({'next': request.path})}")
        if request.path.startswith(reverse("admin:index")) and not has_second_factor(user):
            messages.warning(
                request,
                "Staff need a second factor before opening the back-office: set up an "
                "authenticator app (or add a passkey) here.",
            )
            return redirect("mfa_activate_totp")
        return None
