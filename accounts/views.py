"""The customer's own pages: sign up and the profile.

Log in, log out, e-mail confirmation, password reset and two-factor are django-allauth's views
with our forms (accounts.forms), adapter (accounts.adapter) and templates (templates/account/,
templates/mfa/); these views only translate a request into a call to accounts.services."""

from allauth.account import views as allauth_views
from allauth.account.adapter import get_adapter
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.hashers import make_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from accounts import services
from accounts.adapter import safe_next
from accounts.forms import ProfileForm
from accounts.selectors import email_verified


def _safe_next(request) -> str | None:
    return safe_next(request)


class SignupView(allauth_views.SignupView):
    """allauth's sign-up: every valid form, whether or not its address already has an account,
    answers with the same "check your e-mail" page (allauth's enumeration prevention). The
    e-mailed link then logs the new customer in on the monthly-limit prompt (which links on to
    `next`)."""

    def get_success_url(self):
        if self.request.user.is_authenticated:  # already in: their account, as before
            return reverse("accounts:dashboard")
        return get_adapter(self.request).get_signup_redirect_url(self.request)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "next": safe_next(self.request)}

    def form_valid(self, form):
        if form.account_already_exists:
            # A new account costs a password hash; spend the same time so the answer's delay
            # does not tell that this one was not opened.
            make_password(form.cleaned_data["password1"])
        try:
            return super().form_valid(form)
        except ValidationError as error:  # a rule the service checks again
            if _email_taken(error):
                # Taken after the form's check (a race, or an address allauth does not see):
                # answer as for any taken address, never with "already exists".
                form.account_already_exists = True
                return super().form_valid(form)
            form.add_error(None, error)
            return self.form_invalid(form)


def _email_taken(error: ValidationError) -> bool:
    if not hasattr(error, "error_dict"):
        return False
    return any(e.code == "email_taken" for e in error.error_dict.get("email", []))


signup = SignupView.as_view()


def admin_login(request, extra_context=None):
    """The admin's login page (admin.site.login): allauth's login with its MFA step, then back
    to the admin page asked for."""
    if request.user.is_authenticated:
        if not request.user.is_staff:
            raise PermissionDenied("The back-office is for Fairdraw staff.")
        return redirect(safe_next(request) or "admin:index")
    target = safe_next(request) or reverse("admin:index")
    return redirect(f"{reverse('account_login')}?{urlencode({'next': target})}")


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
    return render(
        request, "accounts/profile.html", {"form": form, "email_verified": email_verified(user)}
    )
