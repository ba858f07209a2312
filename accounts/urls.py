"""Identity pages: the profile, and getting in and out. Mounted at /account/ together with
the pages of the layers above (pages/account_urls.py).

Log in, log out, sign up and password change are django-allauth's views (config.urls mounts
the rest of allauth under /account/ too); the `accounts:` names are kept for our templates and
for the addresses customers know."""

from allauth.account import views as allauth_views
from django.urls import path
from django.views.generic import RedirectView

from . import views

urlpatterns = [
    path("profile/", views.profile, name="profile"),
    path("signup/", views.signup, name="signup"),
    path("login/", allauth_views.login, name="login"),
    path("logout/", allauth_views.logout, name="logout"),
    path("password/", allauth_views.password_change, name="password_change"),
    # The reset page's old address (bookmarks): allauth's is /account/password/reset/.
    path(
        "password-reset/",
        RedirectView.as_view(pattern_name="account_reset_password", permanent=True),
    ),
]
