"""Back-office for winners: the public write-up is edited here; who won is the draw's.

Every change goes through `winners.services` (actions below, and the write-up through
`winner_edit`), which records the timestamps, the approver and the audit entry the same way
wherever they happen.
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import ngettext

from competitions.models import InstantWin
from core.admin_helpers import CONFIRMED, confirm_page, is_confirmed
from core.models import AuditEntry
from draws.exceptions import DrawError
from draws.models import Redraw
from tickets.instant_wins import delivered_to

from .exceptions import WinnerError
from .models import Winner
from .services import (
    winner_announce,
    winner_approve,
    winner_disqualify,
    winner_edit,
    winner_hide,
    winner_mark_delivered,
    winner_publish,
    winner_reject,
)


@admin.register(Winner)
class WinnerAdmin(admin.ModelAdmin):
    fieldsets = (
        (
            "Draw result",
            {"fields": ("competition", "prize", "draw", "ticket", "user", "ledger_index")},
        ),
        (
            "Announcement",
            {
                "fields": (
                    ("display_name", "location"),
                    "announcement",
                    "announced_at",
                    ("photo", "video"),
                )
            },
        ),
        (
            "Verification and publication",
            {
                "fields": (
                    ("verification_status", "verified_at", "verified_by"),
                    "rejection_reason",
                    "instant_win_state",
                    ("is_published", "published_at"),
                )
            },
        ),
        ("Delivery", {"fields": ("prize_delivered_at", "created_at")}),
    )
    readonly_fields = (
        "competition",
        "prize",
        "draw",
        "ticket",
        "user",
        "ledger_index",
        "verification_status",
        "verified_at",
        "verified_by",
        "rejection_reason",
        "instant_win_state",
        "is_published",
        "published_at",
        "announced_at",
        "prize_delivered_at",
        "created_at",
    )
    raw_id_fields = ("user", "ticket", "verified_by")
    list_display = (
        "display_name",
        "competition",
        "prize",
        "ticket_number",
        "verification_status",
        "instant_win_state",
        "is_published",
        "prize_delivered_at",
    )
    list_filter = (
        "verification_status",
        "is_published",
        ("instant_win", admin.EmptyFieldListFilter),
        ("instant_win__voided_at", admin.EmptyFieldListFilter),
        ("prize_delivered_at", admin.EmptyFieldListFilter),
    )
    list_select_related = ("competition", "prize", "ticket", "instant_win")
    search_fields = ("display_name", "user__email", "competition__title")
    ordering = ("-created_at", "-id")
    actions = (
        "approve",
        "reject",
        "disqualify",
        "publish",
        "hide",
        "announce",
        "mark_delivered",
    )

    def has_add_permission(self, request):
        return False  # winners come from draws and instant wins

    def has_delete_permission(self, request, obj=None):
        return False  # a draw's result is not undone from here

    @admin.display(description="ticket", ordering="ticket__number")
    def ticket_number(self, obj):
        return f"#{obj.ticket.number}"

    @admin.display(description="instant win")
    def instant_win_state(self, obj):
        if obj.instant_win is None:
            return "—"
        instant_win = obj.instant_win
        if instant_win.voided_at is not None:
            when = timezone.localtime(instant_win.voided_at)
            return f"Void since {when:%d %b %Y %H:%M}: {instant_win.get_void_reason_display()}"
        return "Won"

    @admin.display(description="why rejected")
    def rejection_reason(self, obj):
        """The reason recorded when the winner was rejected, disqualified or voided by a
        refund (the audit log keeps it: winners.services)."""
        if obj.verification_status != Winner.Verification.REJECTED:
            return "—"
        entry = (
            AuditEntry.objects.filter(
                content_type__app_label="winners",
                content_type__model="winner",
                object_id=str(obj.pk),
                action__in=["winner.reject", "winner.void"],
            )
            .order_by("-at", "-id")
            .first()
        )
        return entry.note if entry else "—"

    def save_model(self, request, obj, form, change):
        """Only the write-up (name, town, text, photo, video) is editable; the service saves
        and audits it."""
        if change and form.changed_data:
            winner_edit(winner=obj, by=request.user, fields=form.changed_data)

    def _each(self, request, queryset, service, done_message, **kwargs) -> int:
        """Call `service` per winner, reporting refusals by name; returns how many succeeded.
        `done_message` is a "%d" format or a function of the count."""
        done = 0
        for winner in queryset.select_related("prize"):
            try:
                service(winner=winner, by=request.user, **kwargs)
            except WinnerError as refusal:
                self.message_user(request, f"{winner.display_name}: {refusal}", messages.ERROR)
            else:
                done += 1
        if done:
            text = done_message(done) if callable(done_message) else done_message % done
            self.message_user(request, text, messages.SUCCESS)
        return done

    @admin.action(description="Approve selected winners", permissions=["change"])
    def approve(self, request, queryset):
        self._each(
            request,
            queryset,
            winner_approve,
            lambda n: ngettext("Approved %d winner.", "Approved %d winners.", n) % n,
        )

    @admin.action(
        description="Reject selected winners (failed verification)", permissions=["change"]
    )
    def reject(self, request, queryset):
        if not is_confirmed(request):
            return confirm_page(
                self,
                request,
                queryset,
                action="reject",
                title="Reject these winners?",
                items=[f"{w.display_name}: {w.prize.title} ({w.competition})" for w in queryset],
                summary="A rejected winner is not published, and is taken off Champions.",
                warnings=_instant_wins_voided(queryset),
                reason_label="Why (kept in the audit log)",
                button="Reject",
            )
        self._each(
            request,
            queryset,
            winner_reject,
            "Rejected %d winner(s).",
            reason=request.POST.get("reason", ""),
        )
        return None

    @admin.action(
        description="Disqualify selected winners and redraw their prizes", permissions=["change"]
    )
    def disqualify(self, request, queryset):
        if not is_confirmed(request):
            request.current_app = self.admin_site.name
            return TemplateResponse(
                request,
                "winners/admin/disqualify.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Disqualify these winners and redraw their prizes?",
                    "opts": self.model._meta,
                    "action": "disqualify",
                    "items": [
                        f"Ticket #{w.ticket.number} ({w.display_name}): {w.prize.title} "
                        f"({w.competition})"
                        for w in queryset.select_related("ticket", "prize", "competition")
                    ],
                    "reasons": Redraw.Reason.choices,
                    "warnings": _instant_wins_voided(queryset),
                    "selected": [str(pk) for pk in queryset.values_list("pk", flat=True)],
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                    "confirmed_name": CONFIRMED,
                    "media": self.media,
                },
            )
        done = 0
        for winner in queryset.select_related("prize", "ticket"):
            try:
                winner_disqualify(
                    winner=winner,
                    by=request.user,
                    reason=request.POST.get("reason_code", ""),
                    detail=request.POST.get("reason", ""),
                )
            except (WinnerError, DrawError) as refusal:
                self.message_user(
                    request, f"Ticket #{winner.ticket.number}: {refusal}", messages.ERROR
                )
            else:
                done += 1
        if done:
            self.message_user(
                request,
                f"Disqualified {done} winner(s); each prize is redrawn once its beacon round "
                "is out (see the draw page).",
                messages.SUCCESS,
            )
        return None

    @admin.action(description="Publish selected winners to Champions", permissions=["change"])
    def publish(self, request, queryset):
        self._each(
            request,
            queryset,
            winner_publish,
            lambda n: ngettext("Published %d winner.", "Published %d winners.", n) % n,
        )

    @admin.action(description="Hide selected winners from Champions", permissions=["change"])
    def hide(self, request, queryset):
        self._each(request, queryset.filter(is_published=True), winner_hide, "Hid %d winner(s).")

    @admin.action(description="Send the announcement (e-mail + SMS)", permissions=["change"])
    def announce(self, request, queryset):
        if not is_confirmed(request):
            return confirm_page(
                self,
                request,
                queryset,
                action="announce",
                title="Send these announcements?",
                items=[
                    f"To {w.user.email}{' and ' + w.user.phone if w.user.phone else ''}: "
                    f"“{w.announcement or '(no text yet)'}”"
                    for w in queryset.select_related("user")
                ],
                summary="Each is sent again if it was sent before.",
                button="Send",
            )
        self._each(request, queryset, winner_announce, "Queued %d announcement(s).")
        return None

    @admin.action(description="Mark prize delivered (tells the winner)", permissions=["change"])
    def mark_delivered(self, request, queryset):
        if not is_confirmed(request):
            return confirm_page(
                self,
                request,
                queryset,
                action="mark_delivered",
                title="Mark these prizes delivered?",
                items=[f"{w.prize.title} to {w.display_name}" for w in queryset],
                summary="Each winner gets a “Prize Delivered” message.",
                button="Mark delivered",
            )
        self._each(request, queryset, winner_mark_delivered, "Marked %d prize(s) delivered.")
        return None


def _instant_wins_voided(winners) -> list[str]:
    """What rejecting these winners does to their instant wins, per number, for staff to read
    first: the win becomes void in public and the prize is not awarded again; a prize that
    already went out has to be recovered (winners.services.winner_reject)."""
    lines = []
    for winner in (
        winners.filter(instant_win__isnull=False, instant_win__voided_at__isnull=True)
        .exclude(verification_status=Winner.Verification.REJECTED)
        .select_related("ticket", "prize", "competition")
        .order_by("competition_id", "ticket__number")
    ):
        line = (
            f"Ticket #{winner.ticket.number}'s instant win ({winner.prize.title}) in "
            f"{winner.competition} becomes void: the competition page shows “void: "
            f"{InstantWin.VoidReason.INELIGIBLE.label}”, and the prize is not awarded again."
        )
        if winner.prize_delivered_at is not None:
            line += (
                " The prize was already "
                f"{delivered_to(winner.display_name, winner.prize_delivered_at)}: recover it "
                "separately."
            )
        lines.append(line)
    return lines
