"""The customer's own pages: sign up, the account dashboard and the profile.

Log in, log out and password reset are Django's views with our forms and templates (see
urls.py); these views only translate a request into a call to accounts.services."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from accounts import services
from accounts.forms import ProfileForm, SignUpForm

AUTH_BACKEND = "accounts.backends.EmailBackend"


def _safe_next(request) -> str | None:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


def signup(request):
    if request.user.is_authenticated:
        return redirect("accounts:dashboard")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = services.user_register(
                email=data["email"],
                password=data["password1"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                date_of_birth=data["date_of_birth"],
                phone=data["phone"],
                marketing_consent=data["marketing_consent"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            login(request, user, backend=AUTH_BACKEND)
            messages.success(request, f"Welcome to Fairdraw, {user.first_name}! You’re logged in.")
            # Responsible play: offer a monthly limit before the first purchase; the limits
            # page then sends the customer on to where they were going.
            query = {"welcome": "1"}
            if _safe_next(request):
                query["next"] = _safe_next(request)
            return redirect(f"{reverse('accounts:limits')}?{urlencode(query)}")
    return render(request, "accounts/signup.html", {"form": form, "next": _safe_next(request)})


@login_required
def profile(request):
    user = request.user
    form = ProfileForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.user_update_profile(
                user=user,
                first_name=data["first_name"],
                last_name=data["last_name"],
                phone=data["phone"],
                marketing_consent=data["marketing_consent"],
                date_of_birth=data.get("date_of_birth"),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Your details have been saved.")
            return redirect("accounts:profile")
    return render(request, "accounts/profile.html", {"form": form})
