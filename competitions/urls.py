"""The competition pages that need only competitions. Mounted through
`pages.competition_urls`, which adds the detail page (it shows the draw and winners)."""

from django.urls import path

from . import views

app_name = "competitions"

urlpatterns = [
    path("", views.competition_list, name="list"),
]
