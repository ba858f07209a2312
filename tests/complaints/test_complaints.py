"""Complaints: logged with a reference and acknowledged, answered and resolved within the
operator's targets by staff in the admin, escalated when needed, and followed by the customer
in their account (replies, never internal notes)."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from competitions.models import Competition
from complaints import services as complaints
from complaints.models import Complaint, ComplaintEvent
from complaints.views import SUBMISSIONS_PER_HOUR
from core.models import AuditEntry, OperatorSettings
from notifications.models import Notification
from tests.factories import (
    CompetitionFactory,
    UserFactory,
    active_competition,
    correct_answer,
)
from tickets.services import order_record_paid

pytestmark = pytest.mark.django_db

Status = Complaint.Status
MESSAGE = "I was charged twice for the same three tickets last night."
REFERENCE = re.compile(r"^C-[A-HJ-NP-Z2-9]{8}$")


def html(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def submit(**overrides) -> Complaint:
    data = {
        "name": "Sarah Khan",
        "email": "sarah.khan@example.com",
        "category": Complaint.Category.PURCHASE,
        "message": MESSAGE,
        **overrides,
    }
    return complaints.complaint_submit(**data)


def complaint_emails(complaint) -> list[Notification]:
    return list(
        Notification.objects.filter(
            idempotency_key__startswith=f"complaint-{complaint.pk}-"
        ).order_by("id")
    )


def written_rows() -> tuple[int, int, int, int]:
    return (
        Complaint.objects.count(),
        ComplaintEvent.objects.count(),
        AuditEntry.objects.count(),
        Notification.objects.count(),
    )


@pytest.fixture
def staff():
    user = UserFactory(email="sam@fairdraw.example", first_name="Sam", is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    return user


@pytest.fixture
def staff_client(staff):
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def customer():
    return UserFactory(email="sarah.khan@example.com", first_name="Sarah", last_name="Khan")


@pytest.fixture
def customer_client(customer):
    client = Client()
    client.force_login(customer)
    return client


@pytest.fixture
def order(customer):
    competition = active_competition(title="Win a Tesla", slug="win-a-tesla")
    return order_record_paid(
        user=customer, competition=competition, answer=correct_answer(competition), quantity=3
    )


def local(moment):
    return timezone.localtime(moment).replace(tzinfo=None)


# ---------------------------------------------------------------- submitting


class TestSubmit:
    def test_logs_a_complaint_with_a_reference_targets_history_and_acknowledgement(self):
        now = timezone.now()
        complaint = submit(now=now)

        assert REFERENCE.match(complaint.reference)
        assert complaint.status == Status.OPEN and complaint.user is None
        assert complaint.response_due_at == now + timedelta(days=5)
        assert complaint.resolution_due_at == now + timedelta(days=28)
        [event] = complaint.events.all()
        assert event.kind == ComplaintEvent.Kind.CREATED and event.message == MESSAGE
        [email] = complaint_emails(complaint)
        assert email.channel == Notification.Channel.EMAIL
        assert email.recipient == "sarah.khan@example.com"
        assert complaint.reference in email.payload["subject"]
        context = email.payload["context"]
        assert context["reference"] == complaint.reference
        assert context["response_due"] and context["resolution_due"]
        # The public form must not become a way to mail someone arbitrary text in our name.
        assert MESSAGE not in str(email.payload)

    def test_acknowledgement_email_renders_with_reference_and_dates(self, mailoutbox):
        from notifications.services import notification_send

        complaint = submit()
        [email] = complaint_emails(complaint)
        assert notification_send(notification_id=email.pk) == "sent"
        [sent] = mailoutbox
        assert complaint.reference in sent.subject and complaint.reference in sent.body
        due = timezone.localtime(complaint.response_due_at).strftime("%-d %B %Y")
        assert due in sent.body

    def test_targets_come_from_the_operator_settings_in_uk_calendar_days(self):
        operator = OperatorSettings.current()
        operator.complaint_response_days, operator.complaint_resolution_days = 1, 10
        operator.save()
        # Saturday before the clocks go forward: a calendar day later is 23 hours later.
        received = timezone.make_aware(timezone.datetime(2026, 3, 28, 12, 0))
        complaint = submit(now=received)
        assert local(complaint.response_due_at) == timezone.datetime(2026, 3, 29, 12, 0)
        assert complaint.response_due_at - received == timedelta(hours=23)
        assert local(complaint.resolution_due_at) == timezone.datetime(2026, 4, 7, 12, 0)

    @pytest.mark.parametrize(
        "field, overrides",
        [
            ("name", {"name": "   "}),
            ("email", {"email": "sarah.khan@"}),
            ("category", {"category": "lottery"}),
            ("message", {"message": "x" * (complaints.MESSAGE_MIN_LENGTH - 1)}),
            ("message", {"message": "x" * (complaints.MESSAGE_MAX_LENGTH + 1)}),
            ("order_reference", {"order_reference": "FD-" + "A" * 20}),
            ("competition", {"competition": "draft"}),
        ],
    )
    def test_bad_input_is_refused_beside_its_field_and_writes_nothing(self, field, overrides):
        if overrides.get("competition") == "draft":
            overrides["competition"] = CompetitionFactory()  # never activated: a draft
        with pytest.raises(ValidationError) as refused:
            submit(**overrides)
        assert field in refused.value.error_dict
        assert written_rows() == (0, 0, 0, 0)

    def test_message_of_exactly_the_minimum_length_is_accepted(self):
        complaint = submit(message="x" * complaints.MESSAGE_MIN_LENGTH)
        assert complaint.pk

    def test_logged_in_customer_may_only_name_their_own_order(self, customer, order):
        other = UserFactory()
        with pytest.raises(ValidationError, match="can’t find order"):
            submit(user=other, order_reference=order.reference)
        assert not Complaint.objects.exists()

        complaint = submit(user=customer, order_reference=order.reference.lower())
        assert complaint.user == customer and complaint.order_reference == order.reference

    def test_one_address_can_send_three_complaints_a_day(self):
        t0 = timezone.now() - timedelta(days=2)
        for minutes in range(complaints.COMPLAINTS_PER_ADDRESS_PER_DAY):
            submit(now=t0 + timedelta(minutes=minutes))
        with pytest.raises(ValidationError, match="several complaints from this e-mail"):
            submit(email="SARAH.KHAN@example.com", now=t0 + timedelta(hours=23))
        assert Complaint.objects.count() == complaints.COMPLAINTS_PER_ADDRESS_PER_DAY

        submit(now=t0 + timedelta(days=1, minutes=1))  # the first has left the 24 hours


# ---------------------------------------------------------------- the staff workflow


class TestWorkflow:
    def test_reply_sets_the_first_response_time_once_and_emails_the_customer(self, staff):
        received = timezone.now() - timedelta(days=3)
        complaint = submit(now=received)
        first = received + timedelta(hours=5)

        complaint = complaints.complaint_respond(
            complaint=complaint,
            by=staff,
            message="Sorry: we are checking with the bank.",
            now=first,
        )
        complaint = complaints.complaint_respond(
            complaint=complaint,
            by=staff,
            message="The duplicate is refunded.",
            now=first + timedelta(days=1),
        )

        complaint.refresh_from_db()
        assert complaint.status == Status.RESPONDED
        assert complaint.first_response_at == first
        replies = complaint.events.filter(kind=ComplaintEvent.Kind.RESPONSE)
        assert [e.message for e in replies] == [
            "Sorry: we are checking with the bank.",
            "The duplicate is refunded.",
        ]
        assert (replies[0].status_from, replies[0].status_to) == (Status.OPEN, Status.RESPONDED)
        assert (replies[1].status_from, replies[1].status_to) == ("", "")
        _acknowledgement, *sent = complaint_emails(complaint)
        assert [n.payload["context"]["message"] for n in sent] == [e.message for e in replies]
        assert all(n.recipient == complaint.email for n in sent)
        audit = AuditEntry.objects.filter(action="complaint.respond", object_id=str(complaint.pk))
        assert audit.count() == 2 and {a.actor for a in audit} == {staff}
        assert audit.order_by("id")[0].after["status"] == Status.RESPONDED

    def test_empty_reply_is_refused_and_writes_nothing(self, staff):
        complaint = submit()
        before = written_rows()
        with pytest.raises(complaints.ComplaintError, match="reply"):
            complaints.complaint_respond(complaint=complaint, by=staff, message="  \n ")
        assert written_rows() == before
        complaint.refresh_from_db()
        assert complaint.first_response_at is None and complaint.status == Status.OPEN

    def test_resolving_an_open_complaint_is_its_first_response_and_final(self, staff):
        complaint = submit()
        complaint = complaints.complaint_resolve(
            complaint=complaint, by=staff, message="Refunded £7.50 today."
        )
        assert complaint.status == Status.RESOLVED
        assert complaint.resolved_at == complaint.first_response_at is not None
        final = complaint_emails(complaint)[-1]
        assert final.payload["subject"].startswith("Our final response")
        assert final.payload["context"]["resolved"] is True
        assert AuditEntry.objects.filter(action="complaint.resolve").count() == 1

    @pytest.mark.parametrize(
        "step, refusal",
        [
            ("resolve", "is already resolved"),
            ("respond", "is resolved: reopen it before replying"),
            ("escalate", "is resolved: reopen it first"),
        ],
    )
    def test_a_resolved_complaint_refuses_further_steps_and_writes_nothing(
        self, staff, step, refusal
    ):
        complaint = complaints.complaint_resolve(complaint=submit(), by=staff, message="Done.")
        before = written_rows()
        call = {
            "resolve": lambda: complaints.complaint_resolve(
                complaint=complaint, by=staff, message="Again."
            ),
            "respond": lambda: complaints.complaint_respond(
                complaint=complaint, by=staff, message="More."
            ),
            "escalate": lambda: complaints.complaint_escalate(
                complaint=complaint, by=staff, to="manager", message="Up."
            ),
        }[step]
        with pytest.raises(complaints.ComplaintError, match=f"{complaint.reference} {refusal}"):
            call()
        assert written_rows() == before

    def test_escalation_tells_the_customer_where_it_went_and_happens_once(self, staff):
        complaint = complaints.complaint_respond(complaint=submit(), by=staff, message="Looking.")
        complaint = complaints.complaint_escalate(
            complaint=complaint, by=staff, to="adr", message="We could not agree a remedy."
        )
        assert complaint.status == Status.ESCALATED and complaint.escalated_at
        told = complaint_emails(complaint)[-1]
        assert told.payload["subject"].startswith("Your complaint has been escalated")
        assert "independent alternative dispute resolution" in told.payload["context"]["message"]
        assert "We could not agree a remedy." in told.payload["context"]["message"]

        with pytest.raises(complaints.ComplaintError, match="already escalated"):
            complaints.complaint_escalate(
                complaint=complaint, by=staff, to="manager", message="Again."
            )
        with pytest.raises(complaints.ComplaintError, match="Choose who"):
            complaints.complaint_escalate(
                complaint=submit(email="x@example.com"), by=staff, to="ombudsman", message="."
            )

    def test_escalated_complaint_stays_escalated_when_answered_then_resolves(self, staff):
        complaint = complaints.complaint_escalate(
            complaint=submit(), by=staff, to="manager", message="Passed to Priya."
        )
        assert complaint.first_response_at == complaint.escalated_at  # the customer was told
        complaint = complaints.complaint_respond(
            complaint=complaint, by=staff, message="Priya is reviewing the payment logs."
        )
        assert complaint.status == Status.ESCALATED
        complaint = complaints.complaint_resolve(complaint=complaint, by=staff, message="Upheld.")
        assert complaint.status == Status.RESOLVED

    def test_reopen_takes_a_resolved_complaint_back_without_emailing(self, staff):
        complaint = complaints.complaint_resolve(complaint=submit(), by=staff, message="Done.")
        emails = len(complaint_emails(complaint))
        complaint = complaints.complaint_reopen(
            complaint=complaint, by=staff, reason="Customer says the refund never arrived."
        )
        assert complaint.status == Status.RESPONDED and complaint.resolved_at is None
        assert len(complaint_emails(complaint)) == emails
        event = complaint.events.last()
        assert event.kind == ComplaintEvent.Kind.STATUS
        assert (event.status_from, event.status_to) == (Status.RESOLVED, Status.RESPONDED)
        assert AuditEntry.objects.filter(action="complaint.reopen").count() == 1
        with pytest.raises(complaints.ComplaintError, match="nothing to reopen"):
            complaints.complaint_reopen(complaint=complaint, by=staff, reason="Again.")

    def test_reopened_escalated_complaint_returns_to_escalated(self, staff):
        complaint = complaints.complaint_escalate(
            complaint=submit(), by=staff, to="manager", message="Up."
        )
        complaint = complaints.complaint_resolve(complaint=complaint, by=staff, message="Done.")
        complaint = complaints.complaint_reopen(complaint=complaint, by=staff, reason="Back.")
        assert complaint.status == Status.ESCALATED

    def test_notes_are_internal_audited_and_never_sent_or_shown(self, staff):
        complaint = submit()
        complaints.complaint_add_note(
            complaint=complaint, by=staff, message="Customer also rang; sounded upset."
        )
        complaints.complaint_respond(complaint=complaint, by=staff, message="We are on it.")

        assert len(complaint_emails(complaint)) == 2  # acknowledgement and the reply
        assert "sounded upset" not in str([n.payload for n in Notification.objects.all()])
        visible = [e.message for e in complaints.complaint_visible_events(complaint)]
        assert visible == [MESSAGE, "We are on it."]
        note = AuditEntry.objects.get(action="complaint.note")
        assert note.actor == staff and note.object_repr == complaint.reference

    def test_assign_to_me_once_and_only_to_staff(self, staff):
        complaint = complaints.complaint_assign(complaint=submit(), to=staff, by=staff)
        assert complaint.assigned_to == staff
        assert complaint.events.last().message.startswith("Assigned to Sam")
        assert AuditEntry.objects.get(action="complaint.assign").after["assigned_to"] == staff.pk
        with pytest.raises(complaints.ComplaintError, match="already assigned to you"):
            complaints.complaint_assign(complaint=complaint, to=staff, by=staff)
        with pytest.raises(complaints.ComplaintError, match="not a member of staff"):
            complaints.complaint_assign(complaint=complaint, to=UserFactory(), by=staff)


class TestFigures:
    def test_response_and_resolution_times_and_overdue_counts(self, staff):
        now = timezone.now()
        start = now - timedelta(days=10)
        answered = [submit(email=f"c{hours}@example.com", now=start) for hours in (1, 2, 6 * 24)]
        for complaint, hours in zip(answered, (1, 2, 6 * 24), strict=True):
            complaints.complaint_respond(
                complaint=complaint, by=staff, message="Hi.", now=start + timedelta(hours=hours)
            )
        complaints.complaint_resolve(
            complaint=answered[0], by=staff, message="Done.", now=start + timedelta(days=2)
        )
        submit(email="waiting@example.com", now=start)  # never answered: overdue for response
        submit(email="new@example.com", now=now - timedelta(hours=1))  # on time so far
        submit(email="old@example.com", now=now - timedelta(days=40))  # both targets missed

        figures = complaints.complaint_figures(now)

        assert figures["response"].count == 3
        assert figures["response"].average == timedelta(hours=(1 + 2 + 144) / 3)
        assert figures["response"].median == timedelta(hours=2)
        assert figures["response"].within_target == 2  # six days is past the five-day target
        assert figures["resolution"].count == 1
        assert figures["resolution"].median == timedelta(days=2)
        assert figures["overdue_response"] == 2  # "waiting" and "old"
        assert figures["overdue_resolution"] == 1  # "old"
        assert figures["overdue"] == 2
        assert figures["received"] == 5
        assert complaints.overdue_complaint_count(now) == 2

    def test_durations_read_at_a_glance(self):
        assert complaints.format_duration(timedelta(minutes=45)) == "45 min"
        assert complaints.format_duration(timedelta(hours=3, minutes=20)) == "3 h 20 min"
        assert complaints.format_duration(timedelta(days=2, hours=4, minutes=9)) == "2 d 4 h"
        assert complaints.format_duration(None) == "—"


# ---------------------------------------------------------------- the customer's pages


def form_data(**overrides) -> dict:
    return {
        "name": "Sarah Khan",
        "email": "sarah.khan@example.com",
        "category": "purchase",
        "competition": "",
        "order_reference": "",
        "message": MESSAGE,
        "website": "",
        **overrides,
    }


class TestCustomerForm:
    url = reverse("complaints:new")

    def test_footer_links_to_the_form(self, client):
        assert f'href="{self.url}">Make a complaint<' in html(client.get(reverse("home")))

    def test_logged_out_form_asks_for_name_and_email_and_lists_public_competitions(self, client):
        live = active_competition(title="Win a Rolex", slug="win-a-rolex")
        CompetitionFactory(title="Secret draft")
        page = html(client.get(self.url))
        for name in ("name", "email", "category", "competition", "order_reference", "message"):
            assert f'for="id_{name}"' in page, name
        assert f'<option value="{live.pk}">Win a Rolex</option>' in page
        assert "Secret draft" not in page
        assert "replies within 5 days" in page and "resolve it within 28 days" in page

    def test_logged_out_submission_shows_the_reference_and_what_happens_next(self, client):
        response = client.post(self.url, form_data(name="Tom Price", email="tom@example.com"))
        complaint = Complaint.objects.get()
        assert response.status_code == 302
        assert response.url == reverse("complaints:received", args=[complaint.reference])
        assert complaint.user is None and complaint.name == "Tom Price"

        page = html(client.get(response.url))
        assert complaint.reference in page
        assert timezone.localtime(complaint.response_due_at).strftime("%-d %B %Y") in page
        assert timezone.localtime(complaint.resolution_due_at).strftime("%-d %B %Y") in page
        assert "tom@example.com" in page
        # A reference is not a password: another browser can't read the complaint.
        assert Client().get(response.url).status_code == 404

    def test_logged_out_without_name_or_email_is_refused_and_writes_nothing(self, client):
        response = client.post(self.url, form_data(name="", email=""))
        page = html(response)
        assert response.status_code == 200
        assert "Enter your name." in page and "Enter your e-mail address" in page
        assert written_rows() == (0, 0, 0, 0)

    def test_honeypot_filled_in_by_a_robot_writes_nothing(self, client):
        response = client.post(self.url, form_data(website="http://spam.example"))
        assert response.status_code == 200
        assert not Complaint.objects.exists()

    def test_one_browser_session_is_slowed_down_after_a_few_complaints(self, client):
        for n in range(SUBMISSIONS_PER_HOUR):
            assert client.post(self.url, form_data(email=f"c{n}@example.com")).status_code == 302
        response = client.post(self.url, form_data(email="another@example.com"))
        assert response.status_code == 200
        assert "several complaints in the last hour" in html(response)
        assert Complaint.objects.count() == SUBMISSIONS_PER_HOUR

    def test_logged_in_form_is_prefilled_and_offers_their_orders_and_entries(
        self, customer_client, customer, order
    ):
        page = html(customer_client.get(self.url))
        assert 'value="Sarah Khan"' in page and 'value="sarah.khan@example.com"' in page
        assert f'<option value="{order.reference}">{order.reference} ·' in page
        assert 'label="Competitions you entered"' in page and "Win a Tesla" in page

    def test_logged_in_submission_is_on_their_account(self, customer_client, customer, order):
        competition = Competition.objects.get(slug="win-a-tesla")
        response = customer_client.post(
            self.url,
            form_data(
                category="refund", competition=str(competition.pk), order_reference=order.reference
            ),
        )
        complaint = Complaint.objects.get()
        assert (complaint.user, complaint.competition, complaint.order_reference) == (
            customer,
            competition,
            order.reference,
        )
        page = html(customer_client.get(response.url))
        assert reverse("complaints:detail", args=[complaint.reference]) in page
        [ack] = complaint_emails(complaint)
        assert ack.user == customer
        assert ack.payload["context"]["complaint_url"].endswith(
            f"/account/complaints/{complaint.reference}/"
        )


class TestYourComplaints:
    def test_dashboard_links_to_your_complaints(self, customer_client):
        page = html(customer_client.get(reverse("accounts:dashboard")))
        assert reverse("complaints:list") in page

    def test_list_shows_only_their_own(self, customer_client, customer):
        mine = submit(user=customer)
        theirs = submit(user=UserFactory(), email="other@example.com")
        page = html(customer_client.get(reverse("complaints:list")))
        assert mine.reference in page and theirs.reference not in page
        assert "Received" in page

    def test_detail_shows_replies_and_status_but_never_internal_notes(
        self, customer_client, customer, staff
    ):
        complaint = submit(user=customer)
        complaints.complaint_add_note(complaint=complaint, by=staff, message="Known fraudster?")
        complaints.complaint_assign(complaint=complaint, to=staff, by=staff)
        complaints.complaint_resolve(
            complaint=complaint, by=staff, message="We refunded the duplicate £7.50."
        )
        page = html(customer_client.get(reverse("complaints:detail", args=[complaint.reference])))
        assert MESSAGE in page
        assert "We refunded the duplicate £7.50." in page and "Our final response" in page
        assert "Resolved" in page
        assert "Known fraudster" not in page and "Assigned to" not in page

    def test_someone_elses_complaint_is_not_found(self, customer_client):
        other = submit(user=UserFactory(), email="other@example.com")
        url = reverse("complaints:detail", args=[other.reference])
        assert customer_client.get(url).status_code == 404

    def test_logged_out_visitors_are_sent_to_log_in(self, client):
        response = client.get(reverse("complaints:list"))
        assert response.status_code == 302 and reverse("accounts:login") in response.url


# ---------------------------------------------------------------- the admin


def admin_url(view: str, *args) -> str:
    return reverse(f"admin:complaints_complaint_{view}", args=args)


class TestAdmin:
    def test_support_group_may_handle_complaints(self, staff):
        assert staff.has_perm("complaints.change_complaint")
        assert staff.has_perm("complaints.view_complaintevent")
        assert not staff.has_perm("complaints.delete_complaint")

    def test_changelist_shows_columns_and_the_handling_figures(self, staff_client, staff):
        answered = submit(now=timezone.now() - timedelta(hours=5))
        complaints.complaint_respond(complaint=answered, by=staff, message="Hi.")
        submit(email="late@example.com", now=timezone.now() - timedelta(days=6))
        response = staff_client.get(admin_url("changelist"))
        page = html(response)
        assert response.status_code == 200
        assert 'id="complaint-figures"' in page
        assert answered.reference in page and "Response overdue" in page
        assert "5 h 0 min" in page  # time to first response
        assert "?overdue=response" in page

    @pytest.mark.parametrize(
        "query, expected",
        [
            ("overdue=response", {"waiting"}),
            ("overdue=resolution", {"old"}),
            ("overdue=any", {"waiting", "old"}),
            ("status__exact=responded", {"answered", "old"}),
            ("status__exact=open", {"waiting", "fresh"}),
            ("category__exact=draw", {"old"}),
            ("assigned=me", {"answered"}),
            ("assigned=nobody", {"waiting", "old", "fresh"}),
            ("q=FD-ZZZZ2222", {"answered"}),
            ("q=waiting@example.com", {"waiting"}),
        ],
    )
    def test_filters_and_search(self, staff_client, staff, query, expected):
        now = timezone.now()
        rows = {
            "answered": submit(
                email="answered@example.com",
                now=now - timedelta(days=7),
                order_reference="FD-ZZZZ2222",
            ),
            "waiting": submit(email="waiting@example.com", now=now - timedelta(days=6)),
            "old": submit(email="old@example.com", category="draw", now=now - timedelta(days=30)),
            "fresh": submit(email="fresh@example.com", now=now - timedelta(hours=1)),
        }
        complaints.complaint_respond(complaint=rows["answered"], by=staff, message="Hi.", now=now)
        complaints.complaint_respond(complaint=rows["old"], by=staff, message="Hi.", now=now)
        complaints.complaint_assign(complaint=rows["answered"], to=staff, by=staff)

        response = staff_client.get(f"{admin_url('changelist')}?{query}")
        assert response.status_code == 200
        found = {c.email.split("@")[0] for c in response.context["cl"].result_list}
        assert found == expected

    def test_search_by_reference(self, staff_client):
        complaint = submit()
        submit(email="other@example.com")
        response = staff_client.get(f"{admin_url('changelist')}?q={complaint.reference}")
        assert [c.pk for c in response.context["cl"].result_list] == [complaint.pk]

    def test_change_page_is_read_only_with_history_and_workflow_buttons(self, staff_client, staff):
        complaint = submit()
        complaints.complaint_add_note(complaint=complaint, by=staff, message="Checked Stripe.")
        response = staff_client.get(admin_url("change", complaint.pk))
        page = html(response)
        assert response.status_code == 200
        assert 'name="_save"' not in page
        assert MESSAGE in page and "Checked Stripe." in page and "Internal note" in page
        for step in ("respond", "note", "resolve", "escalate"):
            assert admin_url(step, complaint.pk) in page, step
        assert admin_url("reopen", complaint.pk) not in page
        assert admin_url("assign", complaint.pk) in page

    def test_respond_through_the_admin_emails_audits_and_records(self, staff_client, staff):
        complaint = submit()
        page = staff_client.get(admin_url("respond", complaint.pk))
        assert page.status_code == 200 and complaint.reference in html(page)

        response = staff_client.post(
            admin_url("respond", complaint.pk), {"message": "We have refunded you."}
        )
        assert response.status_code == 302
        assert response.url == admin_url("change", complaint.pk)
        assert f"{complaint.reference}: Reply sent to sarah.khan@example.com." in messages_of(
            response
        )
        complaint.refresh_from_db()
        assert complaint.status == Status.RESPONDED and complaint.first_response_at
        assert complaint_emails(complaint)[-1].payload["context"]["message"] == (
            "We have refunded you."
        )
        assert AuditEntry.objects.get(action="complaint.respond").actor == staff

    def test_empty_reply_in_the_admin_shows_the_form_again(self, staff_client):
        complaint = submit()
        before = written_rows()
        response = staff_client.post(admin_url("respond", complaint.pk), {"message": ""})
        assert response.status_code == 200 and "This field is required" in html(response)
        assert written_rows() == before

    def test_escalate_and_resolve_through_the_admin(self, staff_client):
        complaint = submit()
        staff_client.post(
            admin_url("escalate", complaint.pk), {"to": "manager", "message": "Priya reviews it."}
        )
        complaint.refresh_from_db()
        assert complaint.status == Status.ESCALATED
        staff_client.post(admin_url("resolve", complaint.pk), {"message": "Upheld in full."})
        complaint.refresh_from_db()
        assert complaint.status == Status.RESOLVED
        page = html(staff_client.get(admin_url("change", complaint.pk)))
        assert admin_url("reopen", complaint.pk) in page
        assert admin_url("resolve", complaint.pk) not in page

    def test_refused_step_shows_the_reason_and_writes_nothing(self, staff_client, staff):
        complaint = complaints.complaint_resolve(complaint=submit(), by=staff, message="Done.")
        before = written_rows()
        response = staff_client.post(admin_url("resolve", complaint.pk), {"message": "Again."})
        assert f"{complaint.reference} is already resolved." in messages_of(response)
        assert written_rows() == before

    def test_assign_to_me(self, staff_client, staff):
        complaint = submit()
        response = staff_client.post(admin_url("assign", complaint.pk))
        assert f"{complaint.reference} is assigned to you." in messages_of(response)
        complaint.refresh_from_db()
        assert complaint.assigned_to == staff
        assert AuditEntry.objects.filter(action="complaint.assign").count() == 1
        assert staff_client.get(admin_url("assign", complaint.pk)).status_code == 302
        assert AuditEntry.objects.filter(action="complaint.assign").count() == 1

    def test_staff_who_may_only_look_get_no_buttons_and_cannot_act(self):
        viewer = UserFactory(is_staff=True)
        viewer.user_permissions.add(
            Permission.objects.get(codename="view_complaint"),
            Permission.objects.get(codename="view_complaintevent"),
        )
        client = Client()
        client.force_login(viewer)
        complaint = submit()
        page = html(client.get(admin_url("change", complaint.pk)))
        assert complaint.reference in page and admin_url("respond", complaint.pk) not in page
        before = written_rows()
        assert client.post(admin_url("respond", complaint.pk), {"message": "x"}).status_code == 403
        assert client.post(admin_url("assign", complaint.pk)).status_code == 403
        assert written_rows() == before

    def test_customers_cannot_reach_the_admin_pages(self, customer_client):
        complaint = submit()
        response = customer_client.post(admin_url("respond", complaint.pk), {"message": "x"})
        assert response.status_code == 302 and "/admin/login/" in response.url
        complaint.refresh_from_db()
        assert complaint.status == Status.OPEN

    def test_admin_index_shows_the_overdue_count(self, staff_client):
        submit(now=timezone.now() - timedelta(days=6))
        submit(email="fresh@example.com")
        page = html(staff_client.get(reverse("admin:index")))
        assert f'href="{admin_url("changelist")}?overdue=any">1<' in page


# ---------------------------------------------------------------- at the same time


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_staff_resolving_at_the_same_moment_resolve_once(on_postgres):
    import threading

    from django.db import connection

    complaint = submit()
    handlers = [UserFactory(is_staff=True) for _ in range(4)]
    barrier = threading.Barrier(len(handlers))
    outcomes = []

    def attempt(by):
        try:
            barrier.wait()
            outcomes.append(
                complaints.complaint_resolve(complaint=complaint, by=by, message=f"By {by}.")
            )
        except Exception as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(by,)) for by in handlers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    refusals = [o for o in outcomes if not isinstance(o, Complaint)]
    assert len(outcomes) - len(refusals) == 1
    assert all(isinstance(o, complaints.ComplaintError) for o in refusals), refusals
    assert complaint.events.filter(status_to=Status.RESOLVED).count() == 1
    assert AuditEntry.objects.filter(action="complaint.resolve").count() == 1
    assert len(complaint_emails(complaint)) == 2  # acknowledgement and one final response
