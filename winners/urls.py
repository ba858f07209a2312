from django.urls import path

from . import views

app_name = "winners"

urlpatterns = [
    path("", views.champion_list, name="champions"),
]
