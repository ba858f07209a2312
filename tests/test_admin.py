"""The back-office: every admin page renders, service-owned rows stay read-only, actions call
the services, and the secret draw seed never reaches a staff member's screen."""

import io
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from accounts.models import User
from competitions.lifecycle import Status
from competitions.models import Competition, CompetitionImage
from complaints.services import complaint_submit
from core.audit import audit_record
from core.groups import FAIRDRAW_APPS
from core.models import AuditEntry
from draws.models import Draw, DrawLogEntry, Redraw
from draws.services import draw_perform
from harm_signals.models import HarmFlag
from notifications.models import Notification
from responsible_play.limits import spend_limit_set
from tests.factories import (
    AnswerChoiceFactory,
    CompetitionFactory,
    UserFactory,
    active_competition,
    correct_answer,
    draft_ready_to_activate,
)
from tickets.cancellation import competition_cancel
from tickets.models import DiscountCode, Order, PaymentEvent, Refund
from tickets.services import order_record_paid, postal_entry_add
from winners.models import Winner

OUR_APPS = set(FAIRDRAW_APPS)
OUR_MODELS = sorted(
    model._meta.label_lower for model in admin.site._registry if model._meta.app_label in OUR_APPS
)
# One-row settings: the list page goes straight to the row (tests/backoffice/test_settings.py).
SINGLETONS = {"core.operatorsettings"}
LISTED_MODELS = [label for label in OUR_MODELS if label not in SINGLETONS]

pytestmark = pytest.mark.django_db


def url(model_label: str, view: str, *args) -> str:
    app_label, model_name = model_label.split(".")
    return reverse(f"admin:{app_label}_{model_name}_{view}", args=args)


def png(name="car.png") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), "red").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


class _FormReader(HTMLParser):
    """Collects what a browser would submit from one <form>: enough to re-post an admin form."""

    def __init__(self, form_id):
        super().__init__()
        self.form_id, self.inside, self.data = form_id, False, {}
        self._select = self._first_option = self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name and "__prefix__" not in name:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.data.setdefault(name, []).append(a.get("value", "on"))
            elif kind not in ("submit", "button", "file", "image"):
                self.data.setdefault(name, []).append(a.get("value", ""))
        elif tag == "select" and name and "__prefix__" not in name:
            self._select, self._first_option = name, None
        elif tag == "option" and self._select:
            value = a.get("value", "")
            if self._first_option is None:
                self._first_option = value
            if "selected" in a:
                self.data.setdefault(self._select, []).append(value)
        elif tag == "textarea" and name and "__prefix__" not in name:
            self._textarea = name
            self.data[name] = [""]

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select:
            if self._select not in self.data:
                self.data[self._select] = [self._first_option or ""]
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea][-1] += data


def form_data(response, form_id: str) -> dict[str, list[str]]:
    reader = _FormReader(form_id)
    reader.feed(response.content.decode())
    for values in reader.data.values():  # browsers drop a textarea's first newline
        if values and values[0].startswith("\n"):
            values[0] = values[0][1:]
    return reader.data


def split_datetime(moment) -> tuple[str, str]:
    local = timezone.localtime(moment)
    return local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S")


@pytest.fixture
def world(admin_user):
    """One competition taken all the way: sold, postal entry, drawn, winner, notification."""
    customer = UserFactory(
        email="sarah.khan@example.com",
        first_name="Sarah",
        last_name="Khan",
        phone="+447700900123",
        is_verified=True,
    )
    competition = active_competition(title="Win a Tesla Model 3", slug="win-a-tesla-model-3")
    CompetitionImage.objects.create(
        competition=competition, image=png(), alt_text="A red Tesla", position=0
    )
    order = order_record_paid(
        user=customer, competition=competition, answer=correct_answer(competition), quantity=3
    )
    # Letters only, so a digits-only search cannot match the reference by accident.
    Order.objects.filter(pk=order.pk).update(reference="FD-ABCDEFGH")
    postal = postal_entry_add(user=customer, competition=competition)[0]
    draw = draw_perform(
        competition=competition,
        mode=Draw.Mode.ADMIN,
        by=admin_user,
        now=competition.ends_at + timedelta(minutes=1),
    )
    first = draw.winners.get(prize__position=1)
    Redraw.objects.create(  # a redraw row for its admin pages (the service is tested in draws)
        competition=competition,
        draw=draw,
        prize=first.prize,
        sequence=1,
        disqualified_ticket=first.ticket,
        disqualified_index=first.ledger_index,
        reason=Redraw.Reason.NO_REPLY,
        reason_detail="No reply within 14 days",
        announced_at=draw.performed_at,
        beacon_chain=draw.beacon_chain,
        beacon_round=draw.beacon_round + 100,
    )
    Notification.objects.create(
        kind=Notification.Kind.WINNER_ANNOUNCED,
        channel=Notification.Channel.EMAIL,
        recipient=customer.email,
        user=customer,
        idempotency_key=f"winner-announced:{draw.pk}",
        last_error="SMTP 451: try again later",
    )
    # Rows of the money trail and the audit log, so their pages have something to show.
    PaymentEvent.objects.create(
        stripe_event_id="evt_sarah_khan",
        type="checkout.session.completed",
        order=order,
        payload={"id": "evt_sarah_khan"},
        outcome="paid",
    )
    Refund.objects.create(
        order=order,
        amount=order.total,
        status=Refund.Status.FAILED,
        failure_message="card expired",
        note="sarah.khan asked",
    )
    audit_record(actor=admin_user, action="user.verify", obj=customer, note="sarah.khan checked")
    # A cancelled competition whose refunds are under way (its job has not run here).
    competition_cancel(
        competition=active_competition(title="Win a Mini", slug="win-a-mini"),
        by=admin_user,
        reason="Prize unavailable",
    )
    spend_limit_set(user=customer, monthly_limit=Decimal("50"))
    DiscountCode.objects.create(code="WELCOME10", percent=Decimal("10"), description="Welcome")
    HarmFlag.objects.create(
        user=customer, rule=HarmFlag.Rule.DECLINED_PAYMENTS, detail="3 declined card payments"
    )
    complaint_submit(
        name="Sarah Khan",
        email=customer.email,
        category="purchase",
        message="Charged twice for the same tickets.",
        user=customer,
    )
    return SimpleNamespace(
        customer=customer,
        competition=competition,
        order=Order.objects.get(pk=order.pk),
        paid_tickets=list(order.tickets.order_by("number")),
        postal=postal,
        draw=draw,
        winner=Winner.objects.get(draw=draw),
    )


# --- every page renders ----------------------------------------------------------------


def test_every_model_of_ours_is_in_the_admin_or_inline():
    assert OUR_MODELS == [
        "accounts.user",
        "competitions.competition",
        "complaints.complaint",
        "core.auditentry",
        "core.operatorsettings",
        "draws.draw",
        "draws.drawlogentry",
        "draws.redraw",
        "harm_signals.harmflag",
        "notifications.notification",
        "responsible_play.spendlimit",
        "tickets.cancellationjob",
        "tickets.discountcode",
        "tickets.order",
        "tickets.paymentevent",
        "tickets.postalentry",
        "tickets.receipt",
        "tickets.receiptkey",
        "tickets.refund",
        "tickets.ticket",
        "winners.winner",
    ]
    competition_inlines = {i.model for i in admin.site._registry[Competition].inlines}
    assert {m._meta.model_name for m in competition_inlines} == {
        "competitionimage",
        "answerchoice",
        "prize",
        "bundle",
    }


@pytest.mark.parametrize("label", LISTED_MODELS)
def test_changelist_renders_with_rows(admin_client, world, label):
    response = admin_client.get(url(label, "changelist"))
    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


SEARCH_AND_FILTER = {
    "core.auditentry": ("sarah.khan", "action=user.verify"),
    "responsible_play.spendlimit": ("sarah.khan", "cancelled_at__isempty=1"),
    "harm_signals.harmflag": ("sarah.khan", "rule__exact=declined_payments"),
    "complaints.complaint": ("sarah.khan", "status__exact=open"),
    "tickets.paymentevent": ("evt_sarah", "type=checkout.session.completed"),
    "tickets.refund": ("sarah.khan", "status__exact=failed"),
    "tickets.postalentry": ("sarah.khan", "received_on__isempty=0"),
    "accounts.user": ("khan", "is_verified__exact=1"),
    "competitions.competition": ("tesla", "status__exact=drawn"),
    "tickets.cancellationjob": ("mini", "status__exact=running"),
    "tickets.discountcode": ("welcome", "is_active__exact=1"),
    "tickets.order": ("FD-ABCDEFGH", "status__exact=paid"),
    "tickets.ticket": ("sarah.khan", "source__exact=postal"),
    "tickets.receipt": ("sarah.khan", "kind__exact=postal"),
    "tickets.receiptkey": ("dev-not-secret", "status=current"),
    "draws.draw": ("tesla", "mode__exact=admin"),
    "draws.drawlogentry": ("tesla", "action__exact=drawn"),
    "draws.redraw": ("tesla", "status__exact=pending"),
    "winners.winner": ("sarah", "verification_status__exact=pending"),
    "notifications.notification": ("sarah.khan", "channel__exact=email"),
}


def test_search_and_filter_cover_every_model():
    assert sorted(SEARCH_AND_FILTER) == LISTED_MODELS


@pytest.mark.parametrize("label", sorted(SEARCH_AND_FILTER))
def test_changelist_search_and_filter_find_the_row(admin_client, world, label):
    query, lookup = SEARCH_AND_FILTER[label]
    base = url(label, "changelist")
    for params in (f"q={query}", lookup, f"q={query}&{lookup}"):
        response = admin_client.get(f"{base}?{params}")
        # An unknown lookup redirects with ?e=1 instead of answering 200.
        assert response.status_code == 200, params
        assert response.context["cl"].result_count >= 1, params


def test_only_users_competitions_and_discount_codes_can_be_added_by_hand(admin_client, world):
    addable = []
    for label in OUR_MODELS:
        response = admin_client.get(url(label, "add"))
        assert response.status_code in (200, 403), label
        if response.status_code == 200:
            addable.append(label)
    assert addable == ["accounts.user", "competitions.competition", "tickets.discountcode"]


def test_every_change_page_renders(admin_client, world):
    for model in admin.site._registry:
        if model._meta.app_label not in OUR_APPS:
            continue
        for pk in model.objects.values_list("pk", flat=True):
            response = admin_client.get(url(model._meta.label_lower, "change", pk))
            assert response.status_code == 200, (model, pk)


def test_competition_page_shows_image_preview_and_links_to_its_tickets(admin_client, world):
    response = admin_client.get(url("competitions.competition", "change", world.competition.pk))
    html = response.content.decode()
    image = world.competition.images.get()
    assert f'<img src="{image.image.url}"' in html
    tickets_url = (
        f"{url('tickets.ticket', 'changelist')}?competition__id__exact={world.competition.pk}"
    )
    assert tickets_url in html
    assert admin_client.get(tickets_url).context["cl"].result_count == 4


# --- the secret seed ---------------------------------------------------------------------


def test_activated_competition_never_shows_its_draw_seed(admin_client):
    competition = active_competition(title="Win a Rolex Submariner", slug="win-a-rolex")
    competition.refresh_from_db()
    seed = competition.draw_seed
    assert seed and competition.seed_commitment

    change = admin_client.get(url("competitions.competition", "change", competition.pk))
    assert change.status_code == 200
    assert competition.seed_commitment in change.content.decode()

    pages = [
        change,
        admin_client.get(url("competitions.competition", "changelist")),
        admin_client.get(url("competitions.competition", "history", competition.pk)),
        admin_client.get(url("draws.drawlogentry", "changelist")),
        *(
            admin_client.get(url("draws.drawlogentry", "change", pk))
            for pk in DrawLogEntry.objects.values_list("pk", flat=True)
        ),
    ]
    for page in pages:
        assert page.status_code == 200
        assert seed not in page.content.decode()

    searched = admin_client.get(url("competitions.competition", "changelist") + f"?q={seed}")
    assert searched.context["cl"].result_count == 0


def test_draw_seed_is_in_no_part_of_the_competition_admin(rf, admin_user):
    competition = active_competition()
    model_admin = admin.site._registry[Competition]
    request = rf.get("/")
    request.user = admin_user
    for obj in (None, competition):
        form = model_admin.get_form(request, obj)
        assert "draw_seed" not in form.base_fields
        assert "draw_seed" not in model_admin.get_readonly_fields(request, obj)
        assert "draw_seed" not in flatten_fieldsets(model_admin.get_fieldsets(request, obj))
    for names in (
        model_admin.list_display,
        model_admin.list_filter,
        model_admin.search_fields,
        model_admin.get_search_fields(request),
    ):
        assert not any("draw_seed" in str(name) for name in names)


# --- activation ----------------------------------------------------------------------------


def test_activate_action_activates_a_ready_draft_and_reports_a_refusal(admin_client, admin_user):
    ready = draft_ready_to_activate(title="Win a Range Rover")
    unready = CompetitionFactory(title="Win a Jet Ski")  # no answers, no prize
    AnswerChoiceFactory(competition=unready, text="Only one answer", is_correct=True)

    response = admin_client.post(
        url("competitions.competition", "changelist"),
        {"action": "activate", "_selected_action": [ready.pk, unready.pk]},
    )

    assert response.status_code == 302
    ready.refresh_from_db()
    unready.refresh_from_db()
    assert ready.status == Status.ACTIVE and ready.seed_commitment
    assert ready.draw_log.get(action="seed_committed").actor == admin_user
    assert unready.status == Status.DRAFT and not unready.draw_seed
    reported = messages_of(response)
    assert ("success", "Activated 1 competition.") in reported
    errors = [text for level, text in reported if level == "error"]
    assert len(errors) == 1
    assert "Win a Jet Ski" in errors[0]
    assert "at least two answers" in errors[0] and "draw prize" in errors[0]
    assert ready.draw_seed not in admin_client.get(response.url).content.decode()


def test_activate_action_refuses_a_competition_already_on_sale(admin_client):
    competition = active_competition(title="Win a Vespa")
    response = admin_client.post(
        url("competitions.competition", "changelist"),
        {"action": "activate", "_selected_action": [competition.pk]},
    )
    [(level, text)] = messages_of(response)
    assert level == "error" and "Only a draft can be activated" in text


def test_staff_create_a_draft_with_answers_and_prize_then_activate_it(admin_client):
    add_url = url("competitions.competition", "add")
    data = form_data(admin_client.get(add_url), "competition_form")
    now = timezone.now()
    starts, ends, draw = now + timedelta(days=1), now + timedelta(days=8), now + timedelta(days=9)
    data.update(
        {
            "title": ["Win a Lake District Cabin"],
            "slug": ["win-a-lake-district-cabin"],
            "prize_description": ["A week in a cabin by Windermere."],
            "prize_value": ["1500.00"],
            "ticket_price": ["0.99"],
            "max_tickets": ["5000"],
            "max_tickets_per_user": ["50"],
            "starts_at_0": [split_datetime(starts)[0]],
            "starts_at_1": [split_datetime(starts)[1]],
            "ends_at_0": [split_datetime(ends)[0]],
            "ends_at_1": [split_datetime(ends)[1]],
            "draw_at_0": [split_datetime(draw)[0]],
            "draw_at_1": [split_datetime(draw)[1]],
            "question": ["Which is England's largest lake?"],
            "answers-0-text": ["Windermere"],
            "answers-0-is_correct": ["on"],
            "answers-1-text": ["Coniston Water"],
            "prizes-0-kind": ["draw"],
            "prizes-0-position": ["1"],
            "prizes-0-title": ["Cabin week"],
            "prizes-0-value": ["1500.00"],
        }
    )

    response = admin_client.post(add_url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    competition = Competition.objects.get(slug="win-a-lake-district-cabin")
    assert competition.status == Status.DRAFT
    assert competition.answers.count() == 2 and competition.prizes.count() == 1

    admin_client.post(
        url("competitions.competition", "changelist"),
        {"action": "activate", "_selected_action": [competition.pk]},
    )
    competition.refresh_from_db()
    assert competition.status == Status.UPCOMING


def test_end_before_start_is_a_form_error_not_a_crash(admin_client):
    competition = draft_ready_to_activate()
    change_url = url("competitions.competition", "change", competition.pk)
    data = form_data(admin_client.get(change_url), "competition_form")
    data["ends_at_0"] = [split_datetime(competition.starts_at - timedelta(days=2))[0]]

    response = admin_client.post(change_url, data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors


# --- what is locked when ---------------------------------------------------------------------


def test_on_sale_competition_keeps_question_and_answers_but_can_be_edited(admin_client):
    competition = active_competition()
    change_url = url("competitions.competition", "change", competition.pk)
    page = admin_client.get(change_url)
    html = page.content.decode()
    assert 'name="question"' not in html
    assert 'name="answers-0-text"' not in html
    assert 'name="ticket_price"' in html

    data = form_data(page, "competition_form")
    data["summary"] = ["Now with free delivery"]
    response = admin_client.post(change_url, data)

    assert response.status_code == 302
    competition.refresh_from_db()
    assert competition.summary == "Now with free delivery"
    assert competition.answers.count() == 3


def test_quantity_cannot_drop_below_the_tickets_already_issued(admin_client):
    competition = active_competition(max_tickets=100, max_tickets_per_user=20)
    customer = UserFactory()
    postal_entry_add(user=customer, competition=competition, quantity=5)
    competition.refresh_from_db()
    highest = competition.tickets.order_by("-number").first().number
    change_url = url("competitions.competition", "change", competition.pk)
    data = form_data(admin_client.get(change_url), "competition_form")
    data["max_tickets"] = ["4"]
    data["max_tickets_per_user"] = ["4"]

    response = admin_client.post(change_url, data)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["max_tickets"]
    assert f"cannot go below {max(highest, 5)}" in errors[0]
    competition.refresh_from_db()
    assert competition.max_tickets == 100


def test_drawn_competition_locks_price_quantity_dates_question_and_prizes(admin_client, world):
    html = admin_client.get(
        url("competitions.competition", "change", world.competition.pk)
    ).content.decode()
    for field in ("ticket_price", "max_tickets", "ends_at_0", "question", "prizes-0-title"):
        assert f'name="{field}"' not in html, field
    assert 'name="title"' in html


# --- orders, tickets, draws: read-only ----------------------------------------------------------


def test_ticket_search_by_digits_finds_exactly_that_number(admin_client, world):
    number = world.paid_tickets[0].number
    changelist = url("tickets.ticket", "changelist")

    found = admin_client.get(f"{changelist}?q={number}").context["cl"]
    assert [t.number for t in found.result_list] == [number]

    # The search stays inside the filters already chosen.
    postal_only = admin_client.get(f"{changelist}?q={number}&source__exact=postal")
    assert postal_only.context["cl"].result_count == 0

    huge = admin_client.get(f"{changelist}?q={'9' * 30}")
    assert huge.status_code == 200
    assert huge.context["cl"].result_count == 0


def test_ticket_search_by_customer_and_order(admin_client, world):
    changelist = url("tickets.ticket", "changelist")
    assert admin_client.get(f"{changelist}?q=Khan").context["cl"].result_count == 4
    assert admin_client.get(f"{changelist}?q=FD-ABCDEFGH").context["cl"].result_count == 3


def test_order_page_lists_its_lines_and_links_to_its_tickets(admin_client, world):
    html = admin_client.get(url("tickets.order", "change", world.order.pk)).content.decode()
    assert "Win a Tesla Model 3" in html  # the order line
    tickets_url = f"{url('tickets.ticket', 'changelist')}?order__id__exact={world.order.pk}"
    assert tickets_url in html
    listed = admin_client.get(tickets_url).context["cl"]
    assert sorted(t.number for t in listed.result_list) == [t.number for t in world.paid_tickets]


@pytest.mark.parametrize("label", ["tickets.order", "tickets.ticket", "draws.draw"])
def test_service_owned_rows_cannot_be_changed_or_deleted(admin_client, world, label):
    obj = {"tickets.order": world.order, "tickets.ticket": world.postal, "draws.draw": world.draw}[
        label
    ]
    change = admin_client.get(url(label, "change", obj.pk))
    assert change.status_code == 200
    assert 'name="_save"' not in change.content.decode()
    assert admin_client.post(url(label, "change", obj.pk), {}).status_code == 403
    assert admin_client.post(url(label, "delete", obj.pk), {"post": "yes"}).status_code == 403
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_draw_page_shows_the_revealed_verification_data(admin_client, world):
    html = admin_client.get(url("draws.draw", "change", world.draw.pk)).content.decode()
    for value in (world.draw.seed, world.draw.seed_commitment, world.draw.ledger_hash):
        assert value in html
    assert "Winners: #" in html  # the draw's own log entry, inline
    log_url = (
        f"{url('draws.drawlogentry', 'changelist')}?competition__id__exact={world.competition.pk}"
    )
    assert log_url in html
    steps = admin_client.get(log_url).context["cl"].result_list
    assert [entry.action for entry in steps] == [
        "drawn",
        "ledger_frozen",
        "beacon_round_announced",
        "seed_committed",
    ]


def test_notification_shows_last_error_read_only(admin_client, world):
    # The draw queues its own notifications too; this is the one the fixture made.
    notification = Notification.objects.get(idempotency_key=f"winner-announced:{world.draw.pk}")
    html = admin_client.get(url("notifications.notification", "change", notification.pk)).content
    assert b"SMTP 451: try again later" in html
    assert b'name="last_error"' not in html


# --- winners --------------------------------------------------------------------------------


def test_winner_is_approved_then_published_through_the_services(admin_client, admin_user, world):
    changelist = url("winners.winner", "changelist")
    selected = {"_selected_action": [world.winner.pk]}

    refused = admin_client.post(changelist, {"action": "publish", **selected})
    assert [level for level, _ in messages_of(refused)] == ["error"]
    world.winner.refresh_from_db()
    assert not world.winner.is_published

    admin_client.post(changelist, {"action": "approve", **selected})
    published = admin_client.post(changelist, {"action": "publish", **selected})

    assert ("success", "Published 1 winner.") in messages_of(published)
    world.winner.refresh_from_db()
    assert world.winner.verification_status == Winner.Verification.APPROVED
    assert world.winner.verified_by == admin_user
    assert world.winner.is_published and world.winner.published_at


def test_winner_write_up_is_editable_but_the_result_is_not(admin_client, world):
    change_url = url("winners.winner", "change", world.winner.pk)
    page = admin_client.get(change_url)
    html = page.content.decode()
    for fixed in ("ticket", "user", "prize", "is_published"):
        assert f'name="{fixed}"' not in html, fixed
    data = form_data(page, "winner_form")
    data["location"] = ["Leeds"]
    assert admin_client.post(change_url, data).status_code == 302
    world.winner.refresh_from_db()
    assert world.winner.location == "Leeds"


# --- users --------------------------------------------------------------------------------------


def test_staff_add_a_user_by_email_and_duplicates_are_refused_whatever_the_case(admin_client):
    add_url = url("accounts.user", "add")
    data = {
        "email": "New.Person@Example.com",
        "first_name": "New",
        "usable_password": "true",
        "password1": "a-Long-passw0rd!",
        "password2": "a-Long-passw0rd!",
    }
    assert admin_client.post(add_url, data).status_code == 302
    user = User.objects.get(email="new.person@example.com")
    assert user.check_password("a-Long-passw0rd!")

    again = admin_client.post(add_url, {**data, "email": "NEW.person@example.com"})
    assert again.status_code == 200
    assert "already exists" in str(again.context["adminform"].form.errors["email"])


def test_ban_status_is_not_editable_on_the_form_only_through_the_audited_action(
    admin_client, world
):
    change_url = url("accounts.user", "change", world.customer.pk)
    data = form_data(admin_client.get(change_url), "user_form")
    data["is_banned"] = ["on"]
    data["ban_reason"] = ["Chargeback fraud"]

    response = admin_client.post(change_url, data)

    assert response.status_code == 302
    world.customer.refresh_from_db()
    assert not world.customer.is_banned  # tests/backoffice covers the "Ban" action


def test_user_search_by_phone(admin_client, world):
    response = admin_client.get(url("accounts.user", "changelist") + "?q=7700900123")
    assert [u.email for u in response.context["cl"].result_list] == ["sarah.khan@example.com"]


# --- bundles and discount codes ---------------------------------------------------------------


def test_staff_add_bundles_on_the_competition_page_and_a_dear_one_is_refused(admin_client):
    competition = active_competition(ticket_price=Decimal("0.99"))
    change_url = url("competitions.competition", "change", competition.pk)
    data = form_data(admin_client.get(change_url), "competition_form")
    data.update(
        {"bundles-0-quantity": ["5"], "bundles-0-price": ["5.00"], "bundles-TOTAL_FORMS": ["1"]}
    )

    response = admin_client.post(change_url, data)

    assert response.status_code == 200
    assert "5 single tickets cost £4.95: a bundle must cost less." in response.content.decode()
    assert not competition.bundles.exists()

    data["bundles-0-price"] = ["4.00"]
    response = admin_client.post(change_url, data)

    assert response.status_code == 302
    assert [(b.quantity, b.price) for b in competition.bundles.all()] == [(5, Decimal("4.00"))]
    entry = AuditEntry.objects.get(action="competition.edit_bundle")
    assert entry.after["added"] == ["5 for £4.00"]


def test_staff_create_a_discount_code_audited_and_see_its_uses(admin_client, admin_user):
    add_url = url("tickets.discountcode", "add")
    data = form_data(admin_client.get(add_url), "discountcode_form")
    data.update({"code": ["spring25"], "kind": ["fixed"], "amount": ["2.50"], "max_uses": ["100"]})

    response = admin_client.post(add_url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    created = DiscountCode.objects.get(code="SPRING25")
    assert (created.kind, created.amount, created.percent) == ("fixed", Decimal("2.50"), None)
    entry = AuditEntry.objects.get(action="discount_code.create")
    assert entry.actor == admin_user and entry.object_id == str(created.pk)
    listing = admin_client.get(url("tickets.discountcode", "changelist")).content.decode()
    assert "SPRING25" in listing and "0 / 100" in listing
