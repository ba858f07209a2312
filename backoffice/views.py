"""Back-office pages outside any one model's admin: the compliance report."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.template.response import TemplateResponse

from pages.compliance_figures import SECTIONS

from .compliance_report import compliance_report, report_csv, report_filename

# Staff who may see the operator's settings (both staff groups) may see how they are kept.
REPORT_PERMISSION = "core.view_operatorsettings"


def _figures(request, kind: str):
    if not request.user.has_perm(REPORT_PERMISSION):
        raise PermissionDenied
    return compliance_report(by=request.user, kind=kind)


def compliance_report_page(request):
    """The report as a page to read or print (dated), with the CSV a click away."""
    figures = _figures(request, "html")
    return TemplateResponse(
        request,
        "admin/backoffice/compliance_report.html",
        {
            **admin.site.each_context(request),
            "title": "Compliance report",
            "figures": figures,
            "sections": [(SECTIONS[key], rows) for key, rows in figures.sections.items()],
        },
    )


def compliance_report_csv(request):
    figures = _figures(request, "csv")
    response = HttpResponse(report_csv(figures), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{report_filename(figures, "csv")}"'
    return response
