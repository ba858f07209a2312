"""Back-office for competitions: what the competition itself owns.

Apps above competitions add to this page (config/layers.py: nothing here may import them):
tickets adds cancel-and-refund and the ticket-number floor on the quantity
(`tickets.admin_competition`), draws adds the draw buttons and panel, and `draws/admin.py`
registers the assembled admin in place of this one. The rules themselves (what is fixed
once activated or final) are `Competition.locked_changes` and the services; read-only fields
here only spare staff a refusal.

The secret draw seed (`Competition.draw_seed`) appears nowhere here, not even read-only: until
the draw reveals it, anyone who saw it could tell which ticket will win. Staff see only its
public commitment. The revealed seed is on the draw's own page once the draw has happened.
"""

from types import SimpleNamespace

from django import forms
from django.contrib import admin, messages
from django.db.models import Value
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import ngettext

from core.models import OperatorSettings

from .admin_backoffice import CompetitionBackofficeAdminMixin
from .exceptions import ActivationRefused
from .lifecycle import Status
from .models import (
    LOCKED_WHEN_ACTIVATED,
    LOCKED_WHEN_FINAL,
    AnswerChoice,
    Bundle,
    Competition,
    CompetitionImage,
    Prize,
)
from .selectors import skill_answer_summary
from .services import competition_activate, instant_win_problems


def is_activated(competition) -> bool:
    return competition is not None and competition.status != Status.DRAFT


def is_final(competition) -> bool:
    return competition is not None and competition.is_final


class CompetitionImageInline(admin.TabularInline):
    model = CompetitionImage
    fields = ("preview", "image", "alt_text", "position")
    readonly_fields = ("preview",)
    ordering = ("position", "id")
    extra = 0

    @admin.display(description="preview")
    def preview(self, obj):
        if not obj.image:
            return "—"
        return format_html('<img src="{}" alt="" class="fd-thumb">', obj.image.url)


class AnswerChoiceInline(admin.TabularInline):
    """Answers can change only while the competition is a draft: tickets already sold were
    marked valid or invalid against them."""

    model = AnswerChoice
    fields = ("text", "is_correct", "position")
    ordering = ("position", "id")

    def get_extra(self, request, obj=None, **kwargs):
        return 2 if obj is None else 0

    def has_add_permission(self, request, obj=None):
        return not is_activated(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not is_activated(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not is_activated(obj) and super().has_delete_permission(request, obj)


class PrizeFormSet(forms.BaseInlineFormSet):
    """Once activated, instant-win prizes are fixed with their numbers (none added, removed,
    recounted or turned into draw prizes), and no new value may make them the majority of the
    prize value: said here as a form error, rather than refused by the service after saving."""

    def clean(self):
        super().clean()
        if not is_activated(self.instance) or any(self.errors):
            return
        kept = []
        for form in self.forms:
            if not form.has_changed() and form.instance.pk is None:
                continue
            before = form.initial.get("kind"), form.initial.get("quantity")
            after = form.cleaned_data.get("kind"), form.cleaned_data.get("quantity")
            deleted = self.can_delete and self._should_delete_form(form)
            instant = Prize.Kind.INSTANT in (before[0], after[0])
            if instant and (deleted or before != after or form.instance.pk is None):
                raise forms.ValidationError(
                    "Instant wins were fixed at activation: add, remove or recount them only "
                    "while the competition is a draft."
                )
            if not deleted:
                kept.append(
                    Prize(
                        kind=after[0],
                        value=form.cleaned_data.get("value") or 0,
                        quantity=after[1] or 1,
                    )
                )
        if problems := instant_win_problems(self.instance, kept):
            raise forms.ValidationError("; ".join(problems).capitalize() + ".")


class PrizeInline(admin.TabularInline):
    model = Prize
    formset = PrizeFormSet
    # Instant wins: a title, a value and a count; their numbers are chosen from the seed at
    # activation and never shown here (docs/architecture.md §4, item 6).
    fields = ("kind", "position", "quantity", "title", "value", "cash_alternative")
    extra = 0

    def get_extra(self, request, obj=None, **kwargs):
        return 1 if obj is None else 0

    def has_add_permission(self, request, obj=None):
        return not is_final(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not is_final(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not is_final(obj) and super().has_delete_permission(request, obj)


MINIMUM_OUTCOME_FIELDS = (
    "min_tickets_outcome",
    "min_tickets_extend_days",
    "min_tickets_max_extensions",
    "min_tickets_then",
)


class BundleFormSet(forms.BaseInlineFormSet):
    def clean(self):
        """Each bundle cheaper per ticket than the single price being saved with it."""
        super().clean()
        price = getattr(self.instance, "ticket_price", None)
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if not data or data.get("DELETE") or price is None:
                continue
            quantity, total = data.get("quantity"), data.get("price")
            if quantity and total is not None and total >= price * quantity:
                form.add_error(
                    "price",
                    f"{quantity} single tickets cost £{price * quantity}: a bundle must cost less.",
                )


class BundleInline(admin.TabularInline):
    """Multi-buy prices ("5 for £4.00"): part of what is sold, so fixed once final."""

    model = Bundle
    formset = BundleFormSet
    fields = ("quantity", "price")
    ordering = ("quantity",)
    extra = 0
    verbose_name = "bundle (multi-buy price)"
    verbose_name_plural = "bundles (multi-buy prices: the cheapest mix is always charged)"

    def has_add_permission(self, request, obj=None):
        return not is_final(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not is_final(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not is_final(obj) and super().has_delete_permission(request, obj)


class CompetitionAdminForm(forms.ModelForm):
    class Meta:
        model = Competition
        fields = (
            "title",
            "slug",
            "summary",
            "prize_description",
            "prize_value",
            "cash_alternative",
            "ticket_price",
            "max_tickets",
            "max_tickets_per_user",
            "min_tickets",
            "min_tickets_outcome",
            "min_tickets_extend_days",
            "min_tickets_max_extensions",
            "min_tickets_then",
            "starts_at",
            "ends_at",
            "draw_at",
            "question",
            "is_featured",
            "auto_draw_enabled",
            "one_prize_per_customer",
        )


@admin.register(Competition)
class CompetitionAdmin(CompetitionBackofficeAdminMixin, admin.ModelAdmin):
    form = CompetitionAdminForm
    inlines = (CompetitionImageInline, AnswerChoiceInline, PrizeInline, BundleInline)
    fieldsets = (
        (None, {"fields": ("title", "slug", "summary", ("status", "live_status"))}),
        ("Prize", {"fields": ("prize_description", ("prize_value", "cash_alternative"))}),
        (
            "Tickets",
            {
                "fields": (
                    "ticket_price",
                    ("max_tickets", "max_tickets_per_user", "min_tickets"),
                    "min_tickets_outcome",
                    (
                        "min_tickets_extend_days",
                        "min_tickets_max_extensions",
                        "min_tickets_then",
                    ),
                    ("tickets_sold", "tickets"),
                )
            },
        ),
        ("Dates", {"fields": ("starts_at", "ends_at", "draw_at")}),
        ("Skill question", {"fields": ("question", "skill_answers")}),
        (
            "Promotion and draw",
            {
                "fields": (
                    "is_featured",
                    "auto_draw_enabled",
                    "one_prize_per_customer",
                    "seed_commitment",
                    "instant_wins_commitment",
                )
            },
        ),
        (
            "Record",
            {
                "classes": ("collapse",),
                "fields": ("activated_at", "cancelled_at", "created_at", "updated_at"),
            },
        ),
    )
    readonly_fields = (
        "status",
        "live_status",
        "skill_answers",
        "tickets_sold",
        "tickets",
        "seed_commitment",
        "instant_wins_commitment",
        "activated_at",
        "cancelled_at",
        "created_at",
        "updated_at",
    )
    prepopulated_fields = {"slug": ("title",)}
    list_display = (
        "title",
        "live_status",
        "status",
        "ticket_price",
        "progress",
        "ends_at",
        "skill_answers",
        "is_featured",
        "auto_draw_enabled",
    )
    list_select_related = ("skill_stats",)
    list_filter = ("status", "is_featured", "auto_draw_enabled")
    search_fields = ("title", "slug")
    ordering = ("-ends_at", "-id")
    date_hierarchy = "ends_at"
    actions = ("activate", *CompetitionBackofficeAdminMixin.backoffice_actions)
    save_on_top = True

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if is_final(obj):
            fields += LOCKED_WHEN_FINAL
        elif is_activated(obj):
            fields += LOCKED_WHEN_ACTIVATED
        if is_activated(obj) or is_final(obj):
            # Promised on the competition page from activation on: staff change the outcome
            # with a reason ("Outcome below the minimum…" in the draw section), audited.
            fields += MINIMUM_OUTCOME_FIELDS
        return fields

    @admin.display(description="live status")
    def live_status(self, obj):
        return obj.live_status().label

    def get_queryset(self, request):
        # The warning's thresholds ride along with each row: read once per page, not per row.
        rules = OperatorSettings.current()
        return (
            super()
            .get_queryset(request)
            .annotate(
                skill_warn_percent=Value(rules.skill_warning_wrong_percent),
                skill_warn_after=Value(rules.skill_warning_min_answers),
            )
        )

    @admin.display(description="wrong answers")
    def skill_answers(self, obj):
        """Answers given with paid entries and how many were wrong, with a warning when the
        question lets nearly everyone through (thresholds: Operator settings)."""
        if obj is None or obj.pk is None:
            return "—"
        rules = None
        if hasattr(obj, "skill_warn_percent"):
            rules = SimpleNamespace(
                skill_warning_wrong_percent=obj.skill_warn_percent,
                skill_warning_min_answers=obj.skill_warn_after,
            )
        text, warning = skill_answer_summary(obj, rules)
        if warning:
            return format_html('{} <span class="fd-warning">⚠ {}</span>', text, warning)
        return text

    @admin.display(description="sold", ordering="tickets_sold")
    def progress(self, obj):
        return f"{obj.tickets_sold:,} / {obj.max_tickets:,} ({obj.percent_sold}%)"

    @admin.display(description="tickets")
    def tickets(self, obj):
        if obj.pk is None:
            return "—"
        url = reverse("admin:tickets_ticket_changelist") + f"?competition__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, self.progress(obj))

    @admin.action(description="Activate selected drafts", permissions=["change"])
    def activate(self, request, queryset):
        activated = 0
        for competition in queryset.order_by("id"):
            try:
                competition_activate(competition=competition, by=request.user)
            except ActivationRefused as refusal:
                self.message_user(request, f"“{competition}”: {refusal}", level=messages.ERROR)
            else:
                activated += 1
                self.log_change(request, competition, "Activated; draw seed committed.")
        if activated:
            self.message_user(
                request,
                ngettext("Activated %d competition.", "Activated %d competitions.", activated)
                % activated,
                level=messages.SUCCESS,
            )
