"""Pieces every back-office admin page shares: read-only admins and the confirmation page
every destructive action shows first."""

from django.contrib.admin import helpers
from django.template.response import TemplateResponse

CONFIRMED = "confirmed"


def is_confirmed(request) -> bool:
    return request.POST.get(CONFIRMED) == "yes"


def confirm_page(
    model_admin,
    request,
    queryset,
    *,
    action: str,
    title: str,
    items: list[str],
    summary: str = "",
    warnings: list[str] = (),
    reason_label: str = "",
    button: str = "Yes, I'm sure",
):
    """The "are you sure?" page of an admin action: lists what will change and re-posts the
    same action with the same selection plus `confirmed=yes` (and a reason if asked for)."""
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": opts,
        "action": action,
        "items": items,
        "summary": summary,
        "warnings": list(warnings),
        "reason_label": reason_label,
        "button": button,
        "selected": [str(pk) for pk in queryset.values_list("pk", flat=True)],
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "confirmed_name": CONFIRMED,
        "media": model_admin.media,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/backoffice/confirm.html", context)


class ReadOnlyAdminMixin:
    """Viewable by staff with the view permission; never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
