"""The back-office draw buttons: each a confirmation page whose POST calls a draws service."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from competitions.models import Competition
from draws.models import Draw, DrawLogEntry
from draws.services import draw_perform
from tests.factories import UserFactory, beacon_rebind
from tickets.models import Ticket

from .conftest import after_end

pytestmark = pytest.mark.django_db


def url(name, *args):
    return reverse(f"admin:{name}", args=args)


@pytest.fixture
def ended(closed_competition):
    """The closed competition with its end moved into the past (a real clock, not `now=`)."""
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    Competition.objects.filter(pk=closed_competition.pk).update(
        starts_at=now - timedelta(days=3),
        ends_at=now - timedelta(minutes=5),
        draw_at=now + timedelta(hours=1),
    )
    return beacon_rebind(closed_competition)


def test_change_page_has_the_draw_section(admin_client, ended):
    html = admin_client.get(url("competitions_competition_change", ended.pk)).content.decode()
    assert url("competitions_competition_draw", ended.pk) in html
    assert url("competitions_competition_draw_manual", ended.pk) in html
    assert url("competitions_competition_draw_automatic", ended.pk) in html
    assert "seed_committed" in html  # the log


def test_perform_draw_now_confirms_then_draws(admin_client, admin_user, ended):
    confirm = admin_client.get(url("competitions_competition_draw", ended.pk))
    html = confirm.content.decode()
    assert confirm.status_code == 200
    assert "12 valid entries" in html
    assert ended.seed_commitment in html
    assert "earlier than advertised" in html
    assert not Draw.objects.exists()  # GET changes nothing

    assert "entropy" not in html  # nothing for staff to type: the beacon round is announced
    assert f"round {ended.beacon_round}" in html
    response = admin_client.post(
        url("competitions_competition_draw", ended.pk), {"entropy": "drand 99"}
    )
    draw = Draw.objects.get()
    assert response.status_code == 302
    assert response.url == url("draws_draw_change", draw.pk)
    assert draw.mode == Draw.Mode.ADMIN
    assert draw.performed_by == admin_user
    assert draw.entropy != "drand 99" and draw.beacon_round == ended.beacon_round
    assert draw.status == Draw.Status.COMPLETED

    again = admin_client.post(url("competitions_competition_draw", ended.pk), {}, follow=True)
    assert "already been drawn" in again.content.decode()
    assert Draw.objects.count() == 1


def test_draw_refused_while_on_sale(admin_client, closed_competition):
    response = admin_client.post(
        url("competitions_competition_draw", closed_competition.pk), {}, follow=True
    )
    assert "not ended" in response.content.decode()
    assert not Draw.objects.filter(status=Draw.Status.COMPLETED).exists()


def test_manual_winner_form(admin_client, admin_user, ended):
    number = Ticket.objects.filter(competition=ended, status="active")[5].number
    page = url("competitions_competition_draw_manual", ended.pk)
    assert admin_client.get(page).status_code == 200

    missing = admin_client.post(page, {"ticket_number": number, "reason": "", "confirm": "on"})
    assert missing.status_code == 200 and not Draw.objects.filter(status="completed").exists()
    unconfirmed = admin_client.post(page, {"ticket_number": number, "reason": "Live draw"})
    assert unconfirmed.status_code == 200 and not Draw.objects.filter(status="completed").exists()

    done = admin_client.post(
        page, {"ticket_number": number, "reason": "Live draw on stream", "confirm": "on"}
    )
    assert done.status_code == 302
    draw = Draw.objects.get()
    assert draw.mode == Draw.Mode.MANUAL
    assert draw.winning_ticket.number == number
    assert draw.performed_by == admin_user
    assert draw.manual_reason == "Live draw on stream"


def test_manual_winner_refuses_an_invalid_ticket(admin_client, ended):
    invalid = Ticket.objects.filter(competition=ended, status="invalid")[0].number
    response = admin_client.post(
        url("competitions_competition_draw_manual", ended.pk),
        {"ticket_number": invalid, "reason": "x", "confirm": "on"},
        follow=True,
    )
    assert "not a valid entry" in response.content.decode()
    assert not Draw.objects.filter(status="completed").exists()


def test_toggle_automatic_draw_and_changelist_actions(admin_client, admin_user, ended):
    page = url("competitions_competition_draw_automatic", ended.pk)
    assert "Disable automatic draw" in admin_client.get(page).content.decode()
    admin_client.post(page)
    ended.refresh_from_db()
    assert not ended.auto_draw_enabled
    entry = DrawLogEntry.objects.get(action="auto_draw_disabled")
    assert entry.actor == admin_user

    admin_client.post(
        url("competitions_competition_changelist"),
        {"action": "enable_auto_draw", "_selected_action": [ended.pk]},
    )
    ended.refresh_from_db()
    assert ended.auto_draw_enabled
    assert DrawLogEntry.objects.filter(action="auto_draw_enabled").exists()


def test_reverify_shows_every_check(admin_client, ended):
    draw = draw_perform(competition=ended, mode=Draw.Mode.ADMIN)
    change = admin_client.get(url("draws_draw_change", draw.pk)).content.decode()
    assert url("draws_draw_verify", draw.pk) in change
    html = admin_client.get(url("draws_draw_verify", draw.pk)).content.decode()
    assert "checks pass" in html
    assert "✗" not in html
    Draw.objects.filter(pk=draw.pk).update(entropy="tampered")
    html = admin_client.get(url("draws_draw_verify", draw.pk)).content.decode()
    assert "Some checks fail" in html and "✗" in html


def test_staff_without_change_permission_cannot_draw(client, ended):
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_competition"))
    client.force_login(viewer)
    for name in ("draw", "draw_manual", "draw_automatic"):
        page = url(f"competitions_competition_{name}", ended.pk)
        assert client.get(page).status_code == 403
        assert client.post(page, {}).status_code == 403
    assert not Draw.objects.filter(status="completed").exists()


def test_draw_later_after_end_still_uses_the_service(admin_client, closed_competition):
    """Sanity: the admin never draws a competition the service would refuse."""
    draw_perform(
        competition=closed_competition,
        mode=Draw.Mode.ADMIN,
        now=after_end(closed_competition),
    )
    html = admin_client.get(
        url("competitions_competition_change", closed_competition.pk)
    ).content.decode()
    assert url("competitions_competition_draw", closed_competition.pk) not in html


def test_staff_draw_steps_are_in_the_audit_log(admin_client, admin_user, ended):
    from core.models import AuditEntry

    admin_client.post(url("competitions_competition_draw_automatic", ended.pk))
    admin_client.post(url("competitions_competition_draw", ended.pk), {})

    entries = AuditEntry.objects.filter(object_id=str(ended.pk), actor=admin_user)
    actions = set(entries.values_list("action", flat=True))
    assert {"draw.auto_draw_disabled", "draw.drawn"} <= actions
    drawn = entries.get(action="draw.drawn")
    assert drawn.after["winning_numbers"][0] == Draw.objects.get().winning_ticket.number
