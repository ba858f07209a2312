import pytest

from notifications.models import Notification
from tests.backoffice.conftest import (
    audit_entries,
    changelist,
    confirm_action,
    messages_of,
    post_action,
)
from winners.models import Winner

pytestmark = pytest.mark.django_db
LABEL = "winners.winner"


def winner(drawn):
    return Winner.objects.get(pk=drawn.winner.pk)


def test_approve_publish_hide_each_audited(operations, operations_user, drawn):
    post_action(operations, LABEL, "approve", [drawn.winner])
    post_action(operations, LABEL, "publish", [drawn.winner])
    w = winner(drawn)
    assert w.verification_status == "approved" and w.verified_by == operations_user
    assert w.is_published
    post_action(operations, LABEL, "hide", [drawn.winner])
    w = winner(drawn)
    assert not w.is_published and w.published_at is None
    for action in ("winner.approve", "winner.publish", "winner.hide"):
        [entry] = audit_entries(action, w)
        assert entry.actor == operations_user
    assert audit_entries("winner.publish", w)[0].after["is_published"] is True


def test_reject_asks_for_a_reason_and_unpublishes(operations, drawn):
    first, _ = confirm_action(operations, LABEL, "reject", [drawn.winner], reason="Under 18")
    assert drawn.winner.display_name in first.content.decode()
    w = winner(drawn)
    assert w.verification_status == "rejected" and not w.is_published
    [entry] = audit_entries("winner.reject", w)
    assert entry.note == "Under 18"
    # A rejected winner cannot be published.
    response = post_action(operations, LABEL, "publish", [w])
    assert any("Approve the winner" in m for m in messages_of(response))
    assert not winner(drawn).is_published


def test_announcement_is_edited_then_sent_and_each_send_is_a_new_message(operations, drawn):
    Winner.objects.filter(pk=drawn.winner.pk).update(announcement="Sarah from Leeds won a Tesla!")
    before = Notification.objects.count()
    confirm_action(operations, LABEL, "announce", [drawn.winner])
    sent = Notification.objects.filter(idempotency_key__contains="-announcement-")
    assert {n.channel for n in sent} == {"email", "sms"}
    email = sent.get(channel="email")
    assert email.payload["context"]["announcement"].startswith("Sarah")
    from notifications.services import notification_send

    assert notification_send(notification_id=email.pk) == "sent"  # the template renders
    Winner.objects.filter(pk=drawn.winner.pk).update(announcement="Edited text")
    confirm_action(operations, LABEL, "announce", [drawn.winner])
    assert Notification.objects.count() == before + 4
    assert len(audit_entries("winner.announce", drawn.winner)) == 2


def test_announcement_needs_text(operations, drawn):
    Winner.objects.filter(pk=drawn.winner.pk).update(announcement=" ")
    _, done = confirm_action(operations, LABEL, "announce", [drawn.winner])
    assert any("Write the announcement" in m for m in messages_of(done))
    assert winner(drawn).announced_at is None


def test_mark_delivered_sends_prize_delivered_once(operations, drawn):
    response = post_action(operations, LABEL, "mark_delivered", [drawn.winner], confirmed="yes")
    assert any("Approve the winner" in m for m in messages_of(response))
    post_action(operations, LABEL, "approve", [drawn.winner])
    confirm_action(operations, LABEL, "mark_delivered", [drawn.winner])
    assert winner(drawn).prize_delivered_at is not None
    assert Notification.objects.filter(kind="prize_delivered", channel="email").count() == 1
    again = post_action(operations, LABEL, "mark_delivered", [drawn.winner], confirmed="yes")
    assert any("already" in m for m in messages_of(again))
    assert len(audit_entries("winner.delivered", drawn.winner)) == 1


def test_write_up_edits_are_audited(operations, drawn):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from tests.test_admin import form_data, png

    change = reverse("admin:winners_winner_change", args=[drawn.winner.pk])
    data = form_data(operations.get(change), "winner_form")
    data["location"] = ["Leeds"]
    data["photo"] = png("sarah.png")
    data["video"] = SimpleUploadedFile("sarah.mp4", b"\x00\x00", content_type="video/mp4")
    assert operations.post(change, data).status_code == 302
    w = winner(drawn)
    assert w.location == "Leeds" and w.photo.name.endswith(".png") and w.video
    [entry] = audit_entries("winner.edit", w)
    assert entry.after["location"] == "Leeds" and "photo" in entry.after


def test_support_sees_winners_but_cannot_change_them(support, drawn):
    assert support.get(changelist(LABEL)).status_code == 200
    post_action(support, LABEL, "approve", [drawn.winner])
    assert winner(drawn).verification_status == "pending"
