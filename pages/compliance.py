"""The public "How we comply" page: the prize-draw code of practice as this operator applies
it, written from the live settings (OperatorSettings), so the page never says one thing while
the checkout does another."""

from django.conf import settings
from django.shortcuts import render

from accounts.models import VerificationMethod
from accounts.services import support_email
from core.models import OperatorSettings
from responsible_play.services import (
    BREAK_DAYS,
    SELF_EXCLUSION_MAX_MONTHS,
    SELF_EXCLUSION_MIN_MONTHS,
)


def how_we_comply(request):
    from competitions.lifecycle import Status
    from competitions.models import Competition

    rules = OperatorSettings.current()
    latest_draw = (
        Competition.objects.filter(status=Status.DRAWN).order_by("-draw_at", "-id").first()
    )
    return render(
        request,
        "accounts/how_we_comply.html",
        {
            "rules": rules,
            "minimum_age": settings.FAIRDRAW_MINIMUM_AGE,
            "verification_methods": [
                label for value, label in VerificationMethod.choices if value != "other"
            ],
            "break_days": BREAK_DAYS,
            "self_exclusion_months": (SELF_EXCLUSION_MIN_MONTHS, SELF_EXCLUSION_MAX_MONTHS),
            "latest_draw": latest_draw,
            "support_email": support_email(),
        },
    )
