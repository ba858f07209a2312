"""The customer's own pages: sign up, the account dashboard and the profile.

Log in, log out and password reset are Django's views with our forms and templates (see
urls.py); these views only translate a request into a call to accounts.services."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode

from . import limits, selectors, services
from .forms import ExclusionForm, ProfileForm, SignUpForm, SpendLimitForm

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
def dashboard(request):
    user = request.user
    return render(
        request,
        "accounts/dashboard.html",
        {
            "ticket_groups": selectors.user_ticket_groups(user),
            "orders": selectors.user_orders(user),
            "wins": selectors.user_wins(user),
        },
    )


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


@login_required
def spend_limits(request):
    """My limits: the monthly spending limit in force, a raise waiting for its cooling-off,
    this month's spend against it, and the form to change it."""
    user = request.user
    form = SpendLimitForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            change = limits.spend_limit_set(
                user=user, monthly_limit=form.cleaned_data["monthly_limit"]
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if change.effective_at > change.requested_at:
                when = timezone.localtime(change.effective_at).strftime("%-d %B %Y at %H:%M")
                messages.info(
                    request,
                    f"Your new limit takes effect on {when}, after a cooling-off period. "
                    "Until then your current limit stays in force.",
                )
            else:
                messages.success(request, "Your new limit is in force now.")
            target = _safe_next(request)
            return redirect(target or "accounts:limits")
    now = timezone.now()
    return render(
        request,
        "accounts/limits.html",
        {
            "form": form,
            "position": limits.spend_position(user, now),
            "pending": limits.pending_limit_for(user, now),
            "history": user.spend_limits.all()[:20],
            "welcome": request.GET.get("welcome") == "1",
            "next": _safe_next(request),
            "cooling_off_hours": limits.cooling_off().total_seconds() // 3600,
        },
    )


@login_required
def exclusion(request):
    """Take a break, self-exclude or close the account. Nothing here lifts one early."""
    user = request.user
    form = ExclusionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["kind"] == ExclusionForm.BREAK:
                user = services.user_take_break(user=user, days=data["days"])
            elif data["kind"] == ExclusionForm.SELF_EXCLUSION:
                user = services.user_self_exclude(user=user, months=data["months"])
            else:
                user = services.user_close_account(user=user)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                "Your account is closed."
                if user.excluded_until is None
                else "Done. You can’t enter competitions or receive marketing until "
                + timezone.localtime(user.excluded_until).strftime("%-d %B %Y at %H:%M")
                + ".",
            )
            return redirect("accounts:exclusion")
    return render(
        request,
        "accounts/exclusion.html",
        {"form": form, "excluded": user.is_excluded()},
    )
