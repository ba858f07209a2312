import re

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path, re_path

from accounts.views import admin_login
from backoffice import views as backoffice_views
from pages import compliance
from pages import views as page_views

from . import health, media

admin.site.site_header = "Fairdraw back-office"
admin.site.site_title = "Fairdraw admin"
admin.site.index_title = "Operations"
# Staff log in through allauth, with its second-factor step (accounts.middleware).
admin.site.login = admin_login

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("", page_views.home, name="home"),
    path("competitions/<slug:slug>/draw/", include("draws.urls")),
    path("competitions/", include("pages.competition_urls")),
    path("account/", include("pages.account_urls")),
    path("account/", include("allauth.urls")),  # e-mail confirmation, reset, two-factor
    path("champions/", include("winners.urls")),
    path("api/", include("config.api_urls")),
    path("", include("tickets.urls")),
    path(
        "admin/compliance-report/",
        admin.site.admin_view(backoffice_views.compliance_report_page),
        name="compliance_report",
    ),
    path(
        "admin/compliance-report.csv",
        admin.site.admin_view(backoffice_views.compliance_report_csv),
        name="compliance_report_csv",
    ),
    path("admin/", admin.site.urls),
    path("how-we-comply/", compliance.how_we_comply, name="how_we_comply"),
    path("", include("complaints.urls")),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
elif settings.SERVE_MEDIA:
    # Production without a bucket: one machine, the app serves uploads (config/media.py).
    prefix = settings.MEDIA_URL.lstrip("/")
    urlpatterns.append(
        re_path(
            rf"^{re.escape(prefix)}(?P<path>.*)$",
            media.serve_media,
            {"document_root": settings.MEDIA_ROOT},
            name="media",
        )
    )
