"""The e-mails a complainant receives: the acknowledgement with its target dates, and each
message staff send on the complaint. Always sent: they are service messages, not marketing.

Called inside the transaction that records the complaint or its event, so the outbox rows
commit or roll back with it (see notifications.outbox)."""

from notifications.models import Notification
from notifications.outbox import absolute_url, email_message, enqueue, local_time

Kind = Notification.Kind


def complaint_received(complaint) -> None:
    """Acknowledge a complaint at once, with its reference and the target dates. The
    customer's own text is not echoed back, so the public form can't be used to send someone
    else a message in our name."""
    enqueue(
        [
            email_message(
                kind=Kind.COMPLAINT,
                recipient=complaint.email,
                user=complaint.user,
                subject=f"We’ve received your complaint ({complaint.reference})",
                template="complaint_received",
                context={
                    **_context(complaint),
                    "response_due": local_time(complaint.response_due_at),
                    "resolution_due": local_time(complaint.resolution_due_at),
                },
                key=f"complaint-{complaint.pk}-received",
            )
        ]
    )


def complaint_message(complaint, event) -> None:
    """E-mail the customer a message staff sent on their complaint (`event`, a reply): a plain
    reply, our final response when it resolves the complaint, or news of its escalation."""
    # status_to is set only when this message moved the complaint on.
    subject = {
        "resolved": f"Our final response to your complaint ({complaint.reference})",
        "escalated": f"Your complaint has been escalated ({complaint.reference})",
    }.get(event.status_to, f"Reply to your complaint ({complaint.reference})")
    enqueue(
        [
            email_message(
                kind=Kind.COMPLAINT,
                recipient=complaint.email,
                user=complaint.user,
                subject=subject,
                template="complaint_message",
                context={
                    **_context(complaint),
                    "message": event.message,
                    "resolved": event.status_to == "resolved",
                    "escalated": event.status_to == "escalated",
                },
                key=f"complaint-{complaint.pk}-event-{event.pk}",
            )
        ]
    )


def _context(complaint) -> dict:
    return {
        "name": complaint.name,
        "reference": complaint.reference,
        "category": complaint.get_category_display(),
        "complaint_url": absolute_url(f"/account/complaints/{complaint.reference}/")
        if complaint.user_id
        else "",
    }
