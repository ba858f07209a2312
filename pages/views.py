"""Pages that span domains: the home page, the account dashboard and the customer's
responsible-play pages (a limit shows this month's spend, which tickets own)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts.views import _safe_next
from competitions.selectors import competitions_for_home
from core.pagecache import cached_for_anonymous
from responsible_play import limits, services
from responsible_play.forms import ExclusionForm, SpendLimitForm
from tickets import spending
from winners.selectors import champions

from . import selectors


@cached_for_anonymous()
def home(request):
    """A bounded selection, however many competitions are on sale: featured, closing soon and
    the first of the live ones, with a link to the full list."""
    now = timezone.now()
    selection = competitions_for_home(now)
    return render(
        request,
        "competitions/home.html",
        {
            "featured": selection.featured,
            "closing_soon": selection.closing_soon,
            "competitions": selection.live,
            "more_live": selection.more_live,
            "champions": champions()[:4],
            "now": now,
        },
    )


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
    welcome = request.GET.get("welcome") == "1"
    if welcome and request.method == "GET":
        limits.spend_limit_prompt_shown(user=user, now=now)
    return render(
        request,
        "accounts/limits.html",
        {
            "form": form,
            "position": spending.spend_position(user, now),
            "pending": limits.pending_limit_for(user, now),
            "history": user.spend_limits.all()[:20],
            "welcome": welcome,
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
