"""Complaints: the public form at /complaints/new/ and the customer's own list under
/account/complaints/. Mounted at the site root (config/urls.py)."""

from django.urls import path

from complaints import views

app_name = "complaints"

urlpatterns = [
    path("complaints/new/", views.complaint_new, name="new"),
    path("complaints/<str:reference>/received/", views.complaint_received, name="received"),
    path("account/complaints/", views.complaint_list, name="list"),
    path("account/complaints/<str:reference>/", views.complaint_detail, name="detail"),
]
