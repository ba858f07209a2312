"""Complaints, as the UK prize-draw code of practice asks: every complaint logged with a
reference, acknowledged at once, answered and resolved within the operator's targets, and
escalated (to a senior manager or an independent ADR body) when it can't be settled.

The workflow, and what each step may follow:

    open ──respond──▶ responded ──resolve──▶ resolved ──reopen──▶ responded / escalated
      │                   │                     ▲
      └──────escalate─────┴──▶ escalated ───────┘ (resolve)

Replying, resolving and escalating all send the customer a message, so each counts as the
first response when none has been sent yet. Internal notes and assignment never reach the
customer. Every staff step writes a ComplaintEvent (the history) and an audit entry, in the
same transaction as the change; a step the workflow refuses raises ComplaintError and writes
nothing. Customers' mistakes on the form raise ValidationError keyed by field.
"""

import statistics
from dataclasses import dataclass
from datetime import UTC, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from accounts.services import normalise_email
from core.audit import audit_record, audit_snapshot
from core.models import OperatorSettings

from . import events as notify
from .models import Complaint, ComplaintEvent

Status = Complaint.Status
Kind = ComplaintEvent.Kind

MESSAGE_MIN_LENGTH = 20
MESSAGE_MAX_LENGTH = 5000
STAFF_MESSAGE_MAX_LENGTH = 10000
# The form sends an acknowledgement to whatever address it is given: cap how many one address
# can receive in a day, so the form can't be used to flood someone's inbox.
COMPLAINTS_PER_ADDRESS_PER_DAY = 3
FIGURES_WINDOW = timedelta(days=30)

AUDIT_FIELDS = (
    "status",
    "assigned_to",
    "first_response_at",
    "resolved_at",
    "escalated_at",
)


# The statuses each step may start from: the one place the workflow's arrows are written down
# (the admin offers a step's button only when the service would accept it).
STEPS_FROM = {
    "respond": (Status.OPEN, Status.RESPONDED, Status.ESCALATED),
    "resolve": (Status.OPEN, Status.RESPONDED, Status.ESCALATED),
    "escalate": (Status.OPEN, Status.RESPONDED),
    "reopen": (Status.RESOLVED,),
}


class ComplaintError(Exception):
    """A step the complaints workflow refuses. The message is written for the staff member."""


class Escalation:
    """Where an escalated complaint goes, and what the customer is told about it."""

    MANAGER = "manager"
    ADR = "adr"
    CHOICES = [
        (MANAGER, "A senior manager"),
        (ADR, "An independent ADR body"),
    ]
    TELL_CUSTOMER = {
        MANAGER: "We have passed your complaint to a senior manager, who will review it and "
        "how we have handled it so far.",
        ADR: "We have referred your complaint to an independent alternative dispute resolution "
        "(ADR) body, who will review it impartially and may contact you directly.",
    }


# ---------------------------------------------------------------- rules shared by the steps


def _days_later(moment, days: int):
    """The same UK wall-clock time `days` calendar days later (a day is not always 24 hours)."""
    local = timezone.localtime(moment)
    later = timezone.make_aware(local.replace(tzinfo=None) + timedelta(days=days))
    return later.astimezone(UTC)  # stored and compared as UTC, like every other time


def complaint_targets(now) -> tuple:
    """(first response due, resolution due) for a complaint received `now`."""
    operator = OperatorSettings.current()
    return (
        _days_later(now, operator.complaint_response_days),
        _days_later(now, operator.complaint_resolution_days),
    )


def overdue_for_response_q(now) -> Q:
    return Q(first_response_at__isnull=True, response_due_at__lt=now)


def overdue_for_resolution_q(now) -> Q:
    return ~Q(status=Status.RESOLVED) & Q(resolution_due_at__lt=now)


def is_overdue_for_response(complaint: Complaint, now=None) -> bool:
    return complaint.first_response_at is None and complaint.response_due_at < (
        now or timezone.now()
    )


def is_overdue_for_resolution(complaint: Complaint, now=None) -> bool:
    return complaint.status != Status.RESOLVED and complaint.resolution_due_at < (
        now or timezone.now()
    )


def _staff_message(message: str, *, what: str) -> str:
    text = (message or "").strip()
    if not text:
        raise ComplaintError(f"Write the {what}: it can’t be empty.")
    if len(text) > STAFF_MESSAGE_MAX_LENGTH:
        raise ComplaintError(
            f"The {what} is too long: keep it under {STAFF_MESSAGE_MAX_LENGTH:,} characters."
        )
    return text


def _locked(complaint: Complaint) -> Complaint:
    """The complaint's row, locked for this transaction: its status is read again under the
    lock, so two staff acting at once can't both move it."""
    return Complaint.objects.select_for_update().get(pk=complaint.pk)


def _refuse_unless(complaint: Complaint, allowed, refusal: str) -> None:
    """Refuse a step from the wrong status, naming the complaint and what to do instead."""
    if complaint.status not in allowed:
        raise ComplaintError(refusal.format(reference=complaint.reference))


def _record(
    complaint: Complaint,
    *,
    by,
    kind: str,
    message: str,
    action: str,
    before: dict,
    status_from: str = "",
    now,
) -> ComplaintEvent:
    """Write the history event and the audit entry of one staff step."""
    moved = bool(status_from) and status_from != complaint.status
    event = ComplaintEvent.objects.create(
        complaint=complaint,
        at=now,
        actor=by,
        kind=kind,
        status_from=status_from if moved else "",
        status_to=complaint.status if moved else "",
        message=message,
    )
    audit_record(
        actor=by,
        action=f"complaint.{action}",
        obj=complaint,
        before=before,
        after=audit_snapshot(complaint, AUDIT_FIELDS),
        note=message[:500],
    )
    return event


def _send_to_customer(
    complaint: Complaint, *, by, message: str, new_status: str, action: str, now
) -> Complaint:
    """A message to the customer that may also move the complaint: reply, resolve, escalate."""
    before = audit_snapshot(complaint, AUDIT_FIELDS)
    status_from = complaint.status
    fields = ["status"]
    complaint.status = new_status
    if complaint.first_response_at is None:
        complaint.first_response_at = now
        fields.append("first_response_at")
    if new_status == Status.RESOLVED:
        complaint.resolved_at = now
        fields.append("resolved_at")
    if new_status == Status.ESCALATED and complaint.escalated_at is None:
        complaint.escalated_at = now
        fields.append("escalated_at")
    complaint.save(update_fields=fields)
    event = _record(
        complaint,
        by=by,
        kind=Kind.RESPONSE,
        message=message,
        action=action,
        before=before,
        status_from=status_from,
        now=now,
    )
    notify.complaint_message(complaint, event)
    return complaint


# ---------------------------------------------------------------- the customer


@transaction.atomic
def complaint_submit(
    *,
    name: str,
    email: str,
    category: str,
    message: str,
    user: User | None = None,
    competition=None,
    order_reference: str = "",
    now=None,
) -> Complaint:
    """Log a customer's complaint with a reference, its target dates from the operator's
    settings, and its first history event, and queue the acknowledgement e-mail."""
    from competitions.lifecycle import Status as CompetitionStatus
    from tickets.models import Order

    now = now or timezone.now()
    user = user if getattr(user, "is_authenticated", False) else None
    errors: dict[str, str] = {}

    name = " ".join((name or "").split())
    if not name:
        errors["name"] = "Enter your name."
    elif len(name) > Complaint._meta.get_field("name").max_length:
        errors["name"] = "Your name is too long: shorten it to 150 characters."

    email = normalise_email(email)
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = "Enter an e-mail address like name@example.com, so we can reply."

    if category not in Complaint.Category.values:
        errors["category"] = "Choose what your complaint is about."

    message = (message or "").strip()
    if len(message) < MESSAGE_MIN_LENGTH:
        errors["message"] = (
            f"Tell us what happened in at least {MESSAGE_MIN_LENGTH} characters, "
            "so we can look into it."
        )
    elif len(message) > MESSAGE_MAX_LENGTH:
        errors["message"] = (
            f"Your message is too long: keep it under {MESSAGE_MAX_LENGTH:,} characters."
        )

    if competition is not None and competition.status == CompetitionStatus.DRAFT:
        errors["competition"] = "Choose a competition from the list."

    order_reference = "".join((order_reference or "").split()).upper()
    if len(order_reference) > Complaint._meta.get_field("order_reference").max_length:
        errors["order_reference"] = "That isn’t an order reference: they look like FD-ABCD2345."
    elif (
        order_reference
        and user is not None
        and not Order.objects.filter(user=user, reference=order_reference).exists()
    ):
        errors["order_reference"] = (
            f"We can’t find order {order_reference} on your account. Check the reference in "
            "your confirmation e-mail, or leave it blank and tell us about it below."
        )

    if (
        "email" not in errors
        and Complaint.objects.filter(
            email__iexact=email, created_at__gt=now - timedelta(days=1)
        ).count()
        >= COMPLAINTS_PER_ADDRESS_PER_DAY
    ):
        errors["__all__"] = (
            "We have already received several complaints from this e-mail address today and "
            "will reply to each of them. To add something, reply to our acknowledgement e-mail."
        )
    if errors:
        raise ValidationError(errors)

    response_due_at, resolution_due_at = complaint_targets(now)
    complaint = Complaint.objects.create(
        user=user,
        name=name,
        email=email,
        category=category,
        competition=competition,
        order_reference=order_reference,
        message=message,
        created_at=now,
        response_due_at=response_due_at,
        resolution_due_at=resolution_due_at,
    )
    ComplaintEvent.objects.create(
        complaint=complaint,
        at=now,
        actor=user,
        kind=Kind.CREATED,
        status_to=Status.OPEN,
        message=message,
    )
    notify.complaint_received(complaint)
    return complaint


# ---------------------------------------------------------------- staff steps


@transaction.atomic
def complaint_respond(*, complaint: Complaint, by: User, message: str, now=None) -> Complaint:
    """Reply to the customer (e-mailed). The first reply stops the response clock; an open
    complaint becomes "responded", an escalated one stays escalated."""
    now = now or timezone.now()
    message = _staff_message(message, what="reply")
    complaint = _locked(complaint)
    _refuse_unless(
        complaint, STEPS_FROM["respond"], "{reference} is resolved: reopen it before replying."
    )
    new_status = Status.ESCALATED if complaint.status == Status.ESCALATED else Status.RESPONDED
    return _send_to_customer(
        complaint, by=by, message=message, new_status=new_status, action="respond", now=now
    )


@transaction.atomic
def complaint_resolve(*, complaint: Complaint, by: User, message: str, now=None) -> Complaint:
    """Close the complaint with a final message to the customer (our final response)."""
    now = now or timezone.now()
    message = _staff_message(message, what="closing message to the customer")
    complaint = _locked(complaint)
    _refuse_unless(complaint, STEPS_FROM["resolve"], "{reference} is already resolved.")
    return _send_to_customer(
        complaint, by=by, message=message, new_status=Status.RESOLVED, action="resolve", now=now
    )


@transaction.atomic
def complaint_escalate(
    *, complaint: Complaint, by: User, to: str, message: str, now=None
) -> Complaint:
    """Pass the complaint to a senior manager or an independent ADR body and tell the customer
    where it has gone, with the staff member's explanation."""
    now = now or timezone.now()
    if to not in Escalation.TELL_CUSTOMER:
        raise ComplaintError("Choose who the complaint is escalated to.")
    message = _staff_message(message, what="reason for the customer")
    complaint = _locked(complaint)
    _refuse_unless(
        complaint,
        STEPS_FROM["escalate"],
        "{reference} is resolved: reopen it first if it needs escalating."
        if complaint.status == Status.RESOLVED
        else "{reference} is already escalated: reply to the customer or resolve it instead.",
    )
    return _send_to_customer(
        complaint,
        by=by,
        message=f"{Escalation.TELL_CUSTOMER[to]}\n\n{message}",
        new_status=Status.ESCALATED,
        action="escalate",
        now=now,
    )


@transaction.atomic
def complaint_reopen(*, complaint: Complaint, by: User, reason: str, now=None) -> Complaint:
    """Take a resolved complaint up again (e.g. the customer came back). Internal: the next
    reply tells the customer. It returns to "escalated" if it had been escalated."""
    now = now or timezone.now()
    reason = _staff_message(reason, what="reason for reopening")
    complaint = _locked(complaint)
    _refuse_unless(
        complaint,
        STEPS_FROM["reopen"],
        "{reference} isn’t resolved, so there is nothing to reopen.",
    )
    before = audit_snapshot(complaint, AUDIT_FIELDS)
    status_from = complaint.status
    complaint.status = Status.ESCALATED if complaint.escalated_at else Status.RESPONDED
    complaint.resolved_at = None
    complaint.save(update_fields=["status", "resolved_at"])
    _record(
        complaint,
        by=by,
        kind=Kind.STATUS,
        message=reason,
        action="reopen",
        before=before,
        status_from=status_from,
        now=now,
    )
    return complaint


@transaction.atomic
def complaint_add_note(*, complaint: Complaint, by: User, message: str, now=None) -> Complaint:
    """An internal note for colleagues. Never sent to, nor shown to, the customer."""
    now = now or timezone.now()
    message = _staff_message(message, what="note")
    complaint = _locked(complaint)
    _record(
        complaint,
        by=by,
        kind=Kind.NOTE,
        message=message,
        action="note",
        before=audit_snapshot(complaint, AUDIT_FIELDS),
        now=now,
    )
    return complaint


@transaction.atomic
def complaint_assign(*, complaint: Complaint, to: User, by: User, now=None) -> Complaint:
    """Make a member of staff the complaint's handler."""
    now = now or timezone.now()
    if not to.is_staff:
        raise ComplaintError(f"{to} is not a member of staff.")
    complaint = _locked(complaint)
    if complaint.assigned_to_id == to.pk:
        who = "you" if to.pk == by.pk else str(to)
        raise ComplaintError(f"{complaint.reference} is already assigned to {who}.")
    before = audit_snapshot(complaint, AUDIT_FIELDS)
    complaint.assigned_to = to
    complaint.save(update_fields=["assigned_to"])
    _record(
        complaint,
        by=by,
        kind=Kind.NOTE,
        message=f"Assigned to {to.get_full_name() or to.email} ({to.email}).",
        action="assign",
        before=before,
        now=now,
    )
    return complaint


# ---------------------------------------------------------------- reads


def complaint_steps(complaint: Complaint) -> list[str]:
    """The status-changing steps the workflow allows now (notes and assignment always are)."""
    return [step for step, allowed in STEPS_FROM.items() if complaint.status in allowed]


def format_duration(duration: timedelta | None) -> str:
    """'2 d 4 h', '3 h 20 min', '45 min': how long something took, for staff at a glance."""
    if duration is None:
        return "—"
    minutes = max(int(duration.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def complaint_visible_events(complaint: Complaint) -> QuerySet[ComplaintEvent]:
    """What the customer may see of the history: their complaint and the messages sent to
    them. Internal notes, assignments and reopening stay inside."""
    return complaint.events.filter(kind__in=(Kind.CREATED, Kind.RESPONSE)).order_by("at", "id")


def user_complaints(user: User) -> QuerySet[Complaint]:
    return Complaint.objects.filter(user=user).select_related("competition")


@dataclass
class TimingFigures:
    count: int
    average: timedelta | None
    median: timedelta | None
    within_target: int


def _timing(pairs) -> TimingFigures:
    """Figures from (start, end, due) triples."""
    durations = [end - start for start, end, _due in pairs]
    return TimingFigures(
        count=len(durations),
        average=sum(durations, timedelta()) / len(durations) if durations else None,
        median=statistics.median(durations) if durations else None,
        within_target=sum(1 for _start, end, due in pairs if end <= due),
    )


def complaint_figures(now=None) -> dict:
    """How complaints are being handled: response and resolution times over the last 30 days
    (of complaints answered or resolved in that window) and what is overdue now."""
    now = now or timezone.now()
    since = now - FIGURES_WINDOW
    counts = Complaint.objects.aggregate(
        unresolved=Count("id", filter=~Q(status=Status.RESOLVED)),
        overdue_response=Count("id", filter=overdue_for_response_q(now)),
        overdue_resolution=Count("id", filter=overdue_for_resolution_q(now)),
        overdue=Count("id", filter=overdue_for_response_q(now) | overdue_for_resolution_q(now)),
        received=Count("id", filter=Q(created_at__gte=since)),
    )
    responses = Complaint.objects.filter(first_response_at__gte=since).values_list(
        "created_at", "first_response_at", "response_due_at"
    )
    resolutions = Complaint.objects.filter(resolved_at__gte=since).values_list(
        "created_at", "resolved_at", "resolution_due_at"
    )
    return {
        **counts,
        "window_days": FIGURES_WINDOW.days,
        "response": _timing(list(responses)),
        "resolution": _timing(list(resolutions)),
    }


def overdue_complaint_count(now=None) -> int:
    now = now or timezone.now()
    return Complaint.objects.filter(
        overdue_for_response_q(now) | overdue_for_resolution_q(now)
    ).count()


def with_response_time(queryset: QuerySet[Complaint]) -> QuerySet[Complaint]:
    """Annotate `response_time` (first response minus receipt), so lists can sort by it."""
    return queryset.annotate(response_time=F("first_response_at") - F("created_at"))
