"""The public "How we comply" page: the prize-draw code of practice as this operator applies
it, written from the live settings (OperatorSettings), so the page never says one thing while
the checkout does another, with the figures that show how each rule is kept
(pages.compliance_figures).

Served from the page cache to anonymous visitors (core/pagecache.py): the figures are at most
FAIRDRAW_PAGE_CACHE_SECONDS old, and a change of the operator settings shows at once (pages/apps.py)."""

from django.conf import settings
from django.shortcuts import render

from accounts.models import VerificationMethod
from accounts.services import support_email
from core.models import OperatorSettings
from core.pagecache import cached_for_anonymous
from responsible_play.services import (
    BREAK_DAYS,
    SELF_EXCLUSION_MAX_MONTHS,
    SELF_EXCLUSION_MIN_MONTHS,
)

from .compliance_figures import compliance_figures


@cached_for_anonymous()
def how_we_comply(request):
    from competitions.lifecycle import Status
    from competitions.models import Competition

    rules = OperatorSettings.current()
    figures = compliance_figures(rules=rules)
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
            "figures": figures,
            # Two rules' figures sit together: spending limits with paying by card, and the
            # fair-competition rules with instant wins.
            "spending_figures": figures["spending"] + figures["cards"],
            "competition_figures": figures["competitions"] + figures["instant_wins"],
        },
    )
