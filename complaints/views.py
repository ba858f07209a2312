"""The customer's side of complaints: the form (logged in or not), its confirmation, and
"Your complaints" in the account. Thin: the rules are in complaints.services."""

import time

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache

from complaints import services as complaints
from core.models import OperatorSettings
from core.ratelimit import client_address, hit, wait_phrase

from .forms import ComplaintForm
from .models import Complaint

# Brakes on the public form: per browser session, per account and per client address (a new
# session is free to get, so the last two are what stop a flood; an address may be shared by
# an office or a mobile network, hence its higher limit). The service also caps how many
# complaints one e-mail address can send a day.
SESSION_SUBMISSIONS = "complaints_submitted_at"
SESSION_REFERENCES = "complaints_submitted"
SUBMISSIONS_PER_HOUR = 3
ADDRESS_SUBMISSIONS_PER_HOUR = 10
WINDOW = 3600
TOO_MANY = (
    "You have sent us several complaints in the last hour. Please wait a little before sending "
    "another; to add to one you have sent, reply to our acknowledgement e-mail."
)
TOO_MANY_FROM_HERE = (
    "We have had several complaints from your account or your connection in the last hour. "
    "Please wait {wait} before sending another; to add to one you have sent, reply to our "
    "acknowledgement e-mail."
)


def _recent_submissions(request) -> list[float]:
    hour_ago = time.time() - WINDOW
    return [t for t in request.session.get(SESSION_SUBMISSIONS, []) if t > hour_ago]


def _throttled(request) -> str:
    """Count this submission against the caller's address and account; the refusal to show,
    if either is over its limit."""
    verdicts = [
        hit(
            f"complaint:ip:{client_address(request)}",
            limit=ADDRESS_SUBMISSIONS_PER_HOUR,
            window=WINDOW,
        )
    ]
    if request.user.is_authenticated:
        verdicts.append(
            hit(f"complaint:user:{request.user.pk}", limit=SUBMISSIONS_PER_HOUR, window=WINDOW)
        )
    refused = [v for v in verdicts if not v.allowed]
    if not refused:
        return ""
    return TOO_MANY_FROM_HERE.format(wait=wait_phrase(max(v.retry_after for v in refused)))


@never_cache
def complaint_new(request):
    form = ComplaintForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        recent = _recent_submissions(request)
        throttled = "" if len(recent) >= SUBMISSIONS_PER_HOUR else _throttled(request)
        if len(recent) >= SUBMISSIONS_PER_HOUR:
            form.add_error(None, TOO_MANY)
        elif throttled:
            form.add_error(None, throttled)
        else:
            data = form.cleaned_data
            try:
                complaint = complaints.complaint_submit(
                    name=data["name"],
                    email=data["email"],
                    category=data["category"],
                    message=data["message"],
                    user=request.user,
                    competition=data["competition"],
                    order_reference=data["order_reference"],
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                request.session[SESSION_SUBMISSIONS] = [*recent, time.time()]
                references = request.session.get(SESSION_REFERENCES, [])
                request.session[SESSION_REFERENCES] = [*references[-9:], complaint.reference]
                return redirect("complaints:received", reference=complaint.reference)
    operator = OperatorSettings.current()
    return render(
        request,
        "complaints/new.html",
        {
            "form": form,
            "response_days": operator.complaint_response_days,
            "resolution_days": operator.complaint_resolution_days,
        },
    )


@never_cache
def complaint_received(request, reference: str):
    """The confirmation, shown only to whoever sent the complaint (this browser session, or the
    customer whose account it is on): a reference is not a password."""
    complaint = get_object_or_404(
        Complaint.objects.select_related("competition"), reference=reference
    )
    mine = request.user.is_authenticated and complaint.user_id == request.user.pk
    if not mine and reference not in request.session.get(SESSION_REFERENCES, []):
        raise Http404("No such complaint")
    return render(request, "complaints/received.html", {"complaint": complaint})


@login_required
def complaint_list(request):
    return render(
        request,
        "complaints/list.html",
        {"complaints": complaints.user_complaints(request.user)},
    )


@login_required
def complaint_detail(request, reference: str):
    complaint = get_object_or_404(complaints.user_complaints(request.user), reference=reference)
    return render(
        request,
        "complaints/detail.html",
        {
            "complaint": complaint,
            "events": complaints.complaint_visible_events(complaint),
        },
    )
