"""JSON API routes (docs/architecture.md §5), mounted at /api/.

Paths follow the brief, without a trailing slash; the trailing-slash spelling works too.
"""

from django.urls import path, re_path

from competitions import api as competition_api
from draws import api as draw_api
from tickets import api as ticket_api

app_name = "api"

urlpatterns = [
    re_path(r"^competitions/?$", competition_api.competition_list, name="competitions"),
    path("competitions/<int:pk>", competition_api.competition_detail, name="competition"),
    path("competitions/<int:pk>/", competition_api.competition_detail),
    re_path(r"^tickets/user/?$", ticket_api.user_tickets, name="user-tickets"),
    path("draws/<int:competition_id>", draw_api.draw_detail, name="draw"),
    path("draws/<int:competition_id>/", draw_api.draw_detail),
]
