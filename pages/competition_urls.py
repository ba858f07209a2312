"""The competition pages under /competitions/, named "competitions:…": the list is the
competitions app's own; the detail page shows draws and winners too, so it comes from pages
(`pages.competition`)."""

from django.urls import path

from competitions.urls import urlpatterns as competition_urlpatterns

from . import competition

app_name = "competitions"

urlpatterns = [
    *competition_urlpatterns,
    path("<slug:slug>/", competition.competition_detail, name="detail"),
]
