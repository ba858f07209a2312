"""Back-office for draws: the record of how each winner was chosen, open to view, never edited.

Draws are made only by `draws.services.draw_perform` (scheduled, admin button or command);
an edited or deleted draw or log entry would break the public verification of the result.

This module also registers the competition admin, assembled from what each app adds to the
competition's page: competitions' own admin, tickets' cancel-and-refund
(`tickets.admin_competition`) and the draw buttons below. Apps import only downwards
(config/layers.py), so the page is put together in the highest app that adds to it; the
competitions app registers its own admin first and this one takes its place.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from competitions import admin as competition_admin
from competitions.lifecycle import Status
from competitions.models import Competition, Prize
from core.admin_helpers import ReadOnlyAdminMixin
from tickets.admin_competition import CompetitionTicketsAdminForm, CompetitionTicketsAdminMixin

from .exceptions import DrawError
from .instant_wins import verify_instant_wins
from .models import Draw, DrawLogEntry
from .selectors import draw_for, draw_log, ledger_tickets
from .services import (
    ENTROPY_MAX_LENGTH,
    draw_perform,
    draw_perform_manual,
    draw_set_automatic,
)
from .verification import verify_draw


class DrawLogInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = DrawLogEntry
    fields = ("at", "action", "actor", "message", "data")
    readonly_fields = fields
    ordering = ("at", "id")
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(Draw)
class DrawAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    inlines = (DrawLogInline,)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "competition",
                    "mode",
                    "status",
                    "performed_at",
                    "performed_by",
                    "competition_log",
                    "reverify",
                )
            },
        ),
        (
            "Result",
            {"fields": ("entry_count", "winning_index", "winning_ticket", "manual_reason")},
        ),
        (
            "Verification data",
            {"fields": ("seed_commitment", "seed", "ledger_frozen_at", "ledger_hash", "entropy")},
        ),
    )
    readonly_fields = (
        "competition",
        "mode",
        "status",
        "performed_at",
        "performed_by",
        "entry_count",
        "winning_index",
        "winning_ticket",
        "manual_reason",
        "seed_commitment",
        "seed",
        "ledger_frozen_at",
        "ledger_hash",
        "entropy",
        "competition_log",
        "reverify",
    )
    list_display = (
        "competition",
        "mode",
        "status",
        "performed_at",
        "performed_by",
        "entry_count",
        "winning_number",
    )
    list_filter = ("mode", "status")
    list_select_related = ("competition", "performed_by", "winning_ticket")
    search_fields = ("competition__title", "competition__slug", "ledger_hash")
    ordering = ("-performed_at", "-id")
    date_hierarchy = "performed_at"

    @admin.display(description="draw log")
    def competition_log(self, obj):
        # Steps before the draw row exists (seed commitment, ledger freeze) belong to the
        # competition, not to this draw, so the inline below cannot show them.
        url = reverse("admin:draws_drawlogentry_changelist")
        return format_html(
            '<a href="{}?competition__id__exact={}">Every step for this competition</a>',
            url,
            obj.competition_id,
        )

    @admin.display(description="verification")
    def reverify(self, obj):
        return format_html(
            '<a class="button" href="{}">Re-verify</a> &nbsp; <a href="{}">Public draw page</a>',
            reverse("admin:draws_draw_verify", args=[obj.pk]),
            reverse("draws:detail", args=[obj.competition.slug]),
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/verify/",
                self.admin_site.admin_view(self.verify_view),
                name="draws_draw_verify",
            ),
            *super().get_urls(),
        ]

    def verify_view(self, request, pk):
        """Re-run every check now, from the database (streams the whole ledger)."""
        draw = get_object_or_404(Draw.objects.select_related("competition"), pk=pk)
        if not self.has_view_permission(request, draw):
            raise PermissionDenied
        checks = verify_draw(draw) + verify_instant_wins(draw)
        return TemplateResponse(
            request,
            "draws/admin/verify.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": draw,
                "draw": draw,
                "checks": checks,
                "all_ok": all(check.ok for check in checks),
                "title": f"Re-verify: {draw}",
            },
        )

    @admin.display(description="winning ticket", ordering="winning_ticket__number")
    def winning_number(self, obj):
        return f"#{obj.winning_ticket.number}" if obj.winning_ticket else "—"


@admin.register(DrawLogEntry)
class DrawLogEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    fields = ("at", "competition", "draw", "actor", "action", "message", "data")
    readonly_fields = fields
    list_display = ("at", "competition", "action", "actor", "message")
    list_filter = ("action",)
    list_select_related = ("competition", "actor")
    search_fields = ("competition__title", "competition__slug", "action", "message")
    ordering = ("-at", "-id")
    date_hierarchy = "at"


# --- Draw actions on the competition's admin page ------------------------------------------
# Mixed into the competition admin registered at the end. Every button leads to a confirmation page
# whose POST calls a draws service; the permission is change permission on the competition.


class ManualWinnerForm(forms.Form):
    ticket_number = forms.IntegerField(min_value=1, label="Winning ticket number")
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Required, and published on the draw page: why this winner is entered by hand.",
    )
    confirm = forms.BooleanField(
        label="I confirm this ticket wins the 1st prize and that it is shown publicly as a "
        "manual entry, not a random draw."
    )


class EntropyForm(forms.Form):
    entropy = forms.CharField(
        required=False,
        max_length=ENTROPY_MAX_LENGTH,
        help_text="Optional public randomness nobody knew at close, e.g. a drand round "
        "announced in advance. Leave empty if none was announced.",
    )


class CompetitionDrawAdminMixin:
    draw_actions = ("enable_auto_draw", "disable_auto_draw")

    def get_urls(self):
        def view(func):
            return self.admin_site.admin_view(func)

        return [
            path("<int:pk>/draw/", view(self.draw_now_view), name="competitions_competition_draw"),
            path(
                "<int:pk>/draw/manual/",
                view(self.draw_manual_view),
                name="competitions_competition_draw_manual",
            ),
            path(
                "<int:pk>/draw/automatic/",
                view(self.draw_automatic_view),
                name="competitions_competition_draw_automatic",
            ),
            *super().get_urls(),
        ]

    # -- helpers

    def _draw_target(self, request, pk):
        competition = get_object_or_404(Competition, pk=pk)
        if not self.has_change_permission(request, competition):
            raise PermissionDenied
        return competition

    def _render(self, request, competition, template, **context):
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "original": competition,
                "competition": competition,
                "change_url": reverse(
                    "admin:competitions_competition_change", args=[competition.pk]
                ),
                "draw": draw_for(competition.pk),
                "now": timezone.now(),
                "title": context.pop("title"),
                **context,
            },
        )

    def _back(self, competition):
        return HttpResponseRedirect(
            reverse("admin:competitions_competition_change", args=[competition.pk])
        )

    def _done(self, request, draw: Draw):
        self.message_user(
            request,
            f"{draw.competition}: {draw.get_status_display().lower()} "
            f"({draw.get_mode_display().lower()}). "
            + (
                f"Winning ticket #{draw.winning_ticket.number}."
                if draw.winning_ticket
                else "No winner."
            ),
            level=messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:draws_draw_change", args=[draw.pk]))

    # -- views

    def draw_now_view(self, request, pk):
        competition = self._draw_target(request, pk)
        form = EntropyForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                draw = draw_perform(
                    competition=competition,
                    mode=Draw.Mode.ADMIN,
                    by=request.user,
                    entropy=form.cleaned_data["entropy"],
                )
            except DrawError as refusal:
                self.message_user(request, str(refusal), level=messages.ERROR)
                return self._back(competition)
            return self._done(request, draw)
        draw = draw_for(competition.pk)
        frozen = draw is not None and draw.ledger_frozen_at is not None
        return self._render(
            request,
            competition,
            "draws/admin/draw_now.html",
            title=f"Perform the draw of “{competition}” now",
            form=form,
            status=competition.live_status(),
            frozen=frozen,
            entry_count=draw.entry_count if frozen else ledger_tickets(competition.pk).count(),
            prize_count=competition.prizes.filter(kind=Prize.Kind.DRAW).count(),
        )

    def draw_manual_view(self, request, pk):
        competition = self._draw_target(request, pk)
        form = ManualWinnerForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                draw = draw_perform_manual(
                    competition=competition,
                    ticket_number=form.cleaned_data["ticket_number"],
                    reason=form.cleaned_data["reason"],
                    by=request.user,
                )
            except DrawError as refusal:
                self.message_user(request, str(refusal), level=messages.ERROR)
                return self._back(competition)
            return self._done(request, draw)
        return self._render(
            request,
            competition,
            "draws/admin/draw_manual.html",
            title=f"Enter a manual winner for “{competition}”",
            form=form,
            status=competition.live_status(),
        )

    def draw_automatic_view(self, request, pk):
        competition = self._draw_target(request, pk)
        enable = not competition.auto_draw_enabled
        if request.method == "POST":
            draw_set_automatic(competition=competition, enabled=enable, by=request.user)
            self.message_user(
                request,
                f"Automatic draw {'enabled' if enable else 'disabled'} for “{competition}”.",
                level=messages.SUCCESS,
            )
            return HttpResponseRedirect(
                reverse("admin:competitions_competition_change", args=[competition.pk])
            )
        return self._render(
            request,
            competition,
            "draws/admin/draw_automatic.html",
            title=f"{'Enable' if enable else 'Disable'} the automatic draw of “{competition}”",
            enable=enable,
        )

    # -- the section on the change page

    @admin.display(description="draw")
    def draw_panel(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        draw = draw_for(obj.pk)
        return render_to_string(
            "draws/admin/_competition_panel.html",
            {
                "competition": obj,
                "status": obj.live_status(),
                "draw": draw,
                "log": draw_log(obj.pk).order_by("-at", "-id")[:50],
                "drawable": obj.status != Status.DRAFT and not obj.is_final,
            },
        )

    # -- changelist actions

    def _set_auto_draw(self, request, queryset, enabled: bool):
        for competition in queryset.order_by("id"):
            draw_set_automatic(competition=competition, enabled=enabled, by=request.user)
        self.message_user(
            request,
            f"Automatic draw {'enabled' if enabled else 'disabled'} for {queryset.count()} "
            "competition(s).",
            level=messages.SUCCESS,
        )

    @admin.action(description="Enable automatic draw", permissions=["change"])
    def enable_auto_draw(self, request, queryset):
        self._set_auto_draw(request, queryset, True)

    @admin.action(description="Disable automatic draw", permissions=["change"])
    def disable_auto_draw(self, request, queryset):
        self._set_auto_draw(request, queryset, False)


# --- The competition admin, assembled (see the module docstring) ----------------------------

_base = competition_admin.CompetitionAdmin


class CompetitionAdmin(CompetitionDrawAdminMixin, CompetitionTicketsAdminMixin, _base):
    form = CompetitionTicketsAdminForm
    # The draw section goes before the (collapsed) record at the end.
    fieldsets = (*_base.fieldsets[:-1], ("Draw", {"fields": ("draw_panel",)}), _base.fieldsets[-1])
    readonly_fields = (*_base.readonly_fields, "draw_panel")
    actions = (
        *_base.actions,
        *CompetitionTicketsAdminMixin.tickets_actions,
        *CompetitionDrawAdminMixin.draw_actions,
    )


admin.site.unregister(Competition)
admin.site.register(Competition, CompetitionAdmin)
