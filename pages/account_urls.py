"""Everything under /account/: identity pages (accounts.urls) and the cross-domain ones."""

from django.urls import path

from accounts.urls import urlpatterns as identity_patterns

from . import views

app_name = "accounts"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("limits/", views.spend_limits, name="limits"),
    path("exclusion/", views.exclusion, name="exclusion"),
    *identity_patterns,
]
