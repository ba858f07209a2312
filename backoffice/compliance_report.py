"""The compliance report staff download from the back-office: the figures How we comply
shows (pages.compliance_figures), dated, as CSV or as a page to print. Each download is a data
export and is audited."""

import csv
import io
from datetime import datetime

from django.utils import timezone

from core.audit import audit_record
from pages.compliance_figures import SECTIONS, ComplianceFigures, compliance_figures

COLUMNS = ("section", "figure", "value", "number", "period", "meaning", "as_at")


def _safe(cell: str) -> str:
    """Spreadsheet formula injection (as tickets.export): a cell starting with = + - @ is text."""
    return "'" + cell if cell[:1] in "=+-@" else cell


def compliance_report(*, by, kind: str, now: datetime | None = None) -> ComplianceFigures:
    """The figures as at `now`, computed afresh (never the public page's cached copy), with
    the download recorded in the audit log."""
    now = now or timezone.now()
    figures = compliance_figures(now)
    audit_record(
        actor=by,
        action="compliance.report_export",
        obj=None,
        after={"format": kind, "as_at": now, "figures": sum(1 for _ in figures.rows())},
    )
    return figures


def report_filename(figures: ComplianceFigures, extension: str) -> str:
    return f"fairdraw-compliance-{timezone.localtime(figures.as_at):%Y-%m-%d}.{extension}"


def report_csv(figures: ComplianceFigures) -> str:
    stamp = timezone.localtime(figures.as_at).isoformat(timespec="seconds")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for section, figure in figures.rows():
        number = "" if figure.number is None else f"{figure.number:g}"
        writer.writerow(
            [
                _safe(cell)
                for cell in (
                    SECTIONS[section],
                    figure.name,
                    figure.value,
                    number,
                    figure.period,
                    figure.meaning,
                    stamp,
                )
            ]
        )
    return buffer.getvalue()
