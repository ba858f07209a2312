"""Mounted at /competitions/<slug>/draw/ (config/urls.py), ahead of the competition pages."""

from django.urls import path

from . import views

app_name = "draws"

urlpatterns = [
    path("", views.draw_detail, name="detail"),
    path("ledger.txt", views.draw_ledger, name="ledger"),
    path("owners.txt", views.draw_owners, name="owners"),
    path("verify.py", views.verify_script, name="verify-script"),
]
