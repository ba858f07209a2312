"""What tickets adds to the competition's admin page: cancel and refund everyone, the guard
that hides "delete" once tickets exist, and the floor on the quantity (never below a number
already issued).

Competitions is below tickets in the layers (config/layers.py), so its admin cannot know
about tickets; `draws/admin.py` assembles this mixin and the form into the registered
competition admin. Every operation calls a service that audits itself.
"""

from collections import Counter

from django import forms
from django.contrib import admin
from django.db.models import Max
from django.urls import reverse
from django.utils.html import format_html

from competitions.admin import CompetitionAdminForm
from competitions.models import InstantWin
from core.admin_helpers import confirm_page, is_confirmed

from .cancellation import competition_cancel
from .instant_wins import instant_prizes_delivered, prize_delivered_warning
from .models import CancellationJob, Ticket


class CompetitionTicketsAdminForm(CompetitionAdminForm):
    def clean_max_tickets(self):
        """Never below what is already issued: the database refuses an oversold competition,
        and every ticket number must stay within 1..max_tickets."""
        max_tickets = self.cleaned_data["max_tickets"]
        if self.instance.pk:
            highest = (
                Ticket.objects.filter(
                    competition=self.instance,
                    status__in=(Ticket.Status.ACTIVE, Ticket.Status.INVALID),
                ).aggregate(highest=Max("number"))["highest"]
                or 0
            )
            floor = max(highest, self.instance.tickets_sold)
            if max_tickets < floor:
                raise forms.ValidationError(
                    f"{self.instance.tickets_sold} tickets are sold and the highest number "
                    f"issued is {highest}: the quantity cannot go below {floor}."
                )
        return max_tickets


class CompetitionTicketsAdminMixin:
    tickets_actions = ("cancel_and_refund",)

    def has_delete_permission(self, request, obj=None):
        # competition_delete refuses too (tickets protect their competition); this only hides
        # a button that could not work.
        if obj is not None and Ticket.objects.filter(competition=obj).exists():
            return False
        return super().has_delete_permission(request, obj)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and CancellationJob.objects.filter(competition=obj).exists():
            # Before the (collapsed) record at the end.
            section = ("Cancellation", {"fields": ("cancellation_progress",)})
            fieldsets = (*fieldsets[:-1], section, fieldsets[-1])
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), "cancellation_progress")

    @admin.display(description="refunds")
    def cancellation_progress(self, obj):
        job = CancellationJob.objects.filter(competition=obj).first()
        if job is None:
            return "—"
        url = reverse("admin:tickets_cancellationjob_change", args=[job.pk])
        return format_html(
            '<a href="{}">{}</a> ({}, started {} by {})',
            url,
            job.progress,
            job.get_status_display(),
            f"{job.started_at:%d %b %Y %H:%M}",
            job.started_by or "—",
        )

    @admin.action(description="Cancel and refund all tickets", permissions=["change"])
    def cancel_and_refund(self, request, queryset):
        if not is_confirmed(request):
            return confirm_page(
                self,
                request,
                queryset,
                action="cancel_and_refund",
                title="Cancel these competitions and refund every ticket?",
                items=[
                    f"{c.title} — {c.tickets_sold} tickets sold, status {c.status}"
                    for c in queryset.order_by("id")
                ],
                summary="The competition closes for good at once; every paid ticket is then "
                "refunded to the customer's card in the background (progress on the "
                "competition's page). This cannot be undone.",
                warnings=[f"{c.title} is {c.status}: it will be refused." for c in queryset.final()]
                + _instant_wins_voided(queryset),
                reason_label="Reason (shown in the audit log and on the refunds)",
                button="Cancel and refund",
            )
        self._each(
            request,
            queryset,
            competition_cancel,
            "Cancelled (refunds follow in the background)",
            reason=request.POST.get("reason", ""),
        )
        return None


def _instant_wins_voided(competitions) -> list[str]:
    """What cancelling would void: each competition's standing instant wins (its tickets are
    refunded, so the wins are void and their prizes never awarded), then each of those whose
    prize was already delivered, by number, for staff to see first."""
    standing = list(
        InstantWin.objects.filter(
            competition__in=competitions, won_at__isnull=False, voided_at__isnull=True
        )
        .select_related("competition", "prize")
        .order_by("competition__title", "competition_id", "number")
    )
    if not standing:
        return []
    wins = Counter(win.competition.title for win in standing)  # (in title order)
    counts = [
        f"{title}: {count} instant win(s) already won will be void "
        "(the tickets are refunded, and those prizes are not awarded again)."
        for title, count in wins.items()
    ]
    # Refunding voids a win whose prize already went out all the same: someone recovers it.
    delivered = instant_prizes_delivered(standing)
    return counts + [
        prize_delivered_warning(
            ticket_number=win.number,
            prize_title=win.prize.title,
            competition=win.competition,
            delivered=delivered[win.pk],
        )
        for win in standing
        if win.pk in delivered
    ]
