"""The compliance report staff download (backoffice/compliance_report.py), and the skill
questions' wrong-answer rates with their warning in the competition admin and the dashboard."""

import csv
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEntry
from tests.factories import (
    UserFactory,
    active_competition,
    correct_answer,
    operator_settings,
    wrong_answer,
)
from tickets.services import order_record_paid, postal_entry_add

pytestmark = pytest.mark.django_db

PAGE = "/admin/compliance-report/"
CSV = "/admin/compliance-report.csv"


def test_the_urls():
    assert reverse("compliance_report") == PAGE
    assert reverse("compliance_report_csv") == CSV


def test_support_downloads_the_dated_csv_and_the_download_is_audited(support, support_user):
    competition = active_competition(max_tickets=100, max_tickets_per_user=20)
    postal_entry_add(user=UserFactory(), competition=competition, quantity=3)

    response = support.get(CSV)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="fairdraw-compliance-{today}.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    by_name = {(row["figure"], row["period"]): row for row in rows}
    postal = by_name[("Free postal entries recorded", "Since launch")]
    assert (postal["section"], postal["value"], postal["number"]) == (
        "Free entry by post",
        "3",
        "3",
    )
    assert all(row["as_at"].startswith(today) for row in rows)
    assert {row["section"] for row in rows} >= {
        "Fair competitions",
        "Instant wins",
        "Paying by card",
        "Spending limits",
        "Breaks and self-exclusion",
        "Free entry by post",
        "How winners are chosen",
        "Complaints",
    }
    [entry] = AuditEntry.objects.filter(action="compliance.report_export")
    assert entry.actor == support_user
    assert entry.after["format"] == "csv"


def test_cells_a_spreadsheet_would_run_are_written_as_text():
    from backoffice.compliance_report import _safe

    assert _safe("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _safe("+1") == "'+1"
    assert _safe("12.5%") == "12.5%"


def test_the_printable_report_shows_every_figure_with_its_date(operations):
    response = operations.get(PAGE)

    html = response.content.decode()
    assert response.status_code == 200
    assert "figures as at" in html
    assert "Draws verified" in html and "Complaints answered within our target" in html
    assert 'href="/admin/compliance-report.csv"' in html
    assert AuditEntry.objects.filter(action="compliance.report_export").count() == 1


def test_customers_and_staff_without_the_permission_cannot_have_it(customer_client):
    for url in (PAGE, CSV):
        response = customer_client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response.url
    staff = UserFactory(is_staff=True)  # in no group: no permission
    from django.test import Client

    client = Client()
    client.force_login(staff)
    assert client.get(CSV).status_code == 403
    assert not AuditEntry.objects.filter(action="compliance.report_export").exists()


def test_the_dashboard_links_to_the_report(operations):
    html = operations.get("/admin/").content.decode()
    assert f'href="{PAGE}"' in html


# ---------------------------------------------------------------- skill-question strength


def sell(competition, *, right: int, wrong: int, capture) -> None:
    with capture(execute=True):
        for answer, count in ((correct_answer, right), (wrong_answer, wrong)):
            for _ in range(count):
                order_record_paid(
                    user=UserFactory(),
                    competition=competition,
                    answer=answer(competition),
                    quantity=1,
                )


def test_the_competition_list_and_page_show_the_wrong_answer_rate_and_warn_when_too_easy(
    operations, django_capture_on_commit_callbacks
):
    operator_settings(skill_warning_wrong_percent=10, skill_warning_min_answers=10)
    easy = active_competition(title="Too easy", max_tickets=500, max_tickets_per_user=5)
    fair = active_competition(title="Fair test", max_tickets=500, max_tickets_per_user=5)
    young = active_competition(title="Just opened", max_tickets=500, max_tickets_per_user=5)
    sell(easy, right=19, wrong=1, capture=django_capture_on_commit_callbacks)
    sell(fair, right=8, wrong=4, capture=django_capture_on_commit_callbacks)
    sell(young, right=5, wrong=0, capture=django_capture_on_commit_callbacks)

    listing = operations.get(reverse("admin:competitions_competition_changelist"))
    html = listing.content.decode()
    assert "1 of 20 answers wrong (5.0%)" in html
    assert "4 of 12 answers wrong (33.3%)" in html
    assert "0 of 5 answers wrong (0.0%)" in html
    assert html.count("Nearly everyone answers correctly") == 1  # only the easy one

    page = operations.get(reverse("admin:competitions_competition_change", args=[easy.pk]))
    assert "Nearly everyone answers correctly (under 10% wrong)" in page.content.decode()

    dashboard = operations.get("/admin/").content.decode()
    assert "Skill questions to review" in dashboard
    review = dashboard.split('id="weak-questions"', 1)[1].split("</table>", 1)[0]
    assert "Too easy" in review and "Fair test" not in review and "Just opened" not in review


def test_the_competition_list_reads_the_rates_in_a_fixed_number_of_queries(
    operations, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    url = reverse("admin:competitions_competition_changelist")
    competition = active_competition(max_tickets=500, max_tickets_per_user=5)
    sell(competition, right=2, wrong=1, capture=django_capture_on_commit_callbacks)
    operations.get(url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        operations.get(url)
    for _ in range(6):
        more = active_competition(max_tickets=500, max_tickets_per_user=5)
        sell(more, right=1, wrong=1, capture=django_capture_on_commit_callbacks)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert operations.get(url).status_code == 200


def test_no_answers_yet_is_said_plainly(operations):
    competition = active_competition()
    page = operations.get(reverse("admin:competitions_competition_change", args=[competition.pk]))
    assert "No answers yet" in page.content.decode()
