"""Back-office for signed entry receipts and their signing keys (docs/architecture.md §4,
"Entry receipts"): staff look, nobody edits.

A receipt is a public, signed record its customer may already hold: changing a row here would
only make it disagree with their copy, and deleting one would hide an entry, so there is no
add, change or delete. A signing key is published by the service the first time it signs
(`tickets.services.receipts.receipt_key_current`, from FAIRDRAW_RECEIPT_KEYS, whose entries
`manage.py receipt_key` makes) and kept for good, so old receipts keep verifying: that stays the
only way a key appears or is retired.

The changelist shows what the receipt itself says (its signed payload names each competition),
so a page of receipts costs the same few queries however many rows it has.
"""

import json
from dataclasses import dataclass

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from core.admin_helpers import ReadOnlyAdminMixin

from .models import Receipt, ReceiptKey
from .selectors import receipt_signature_checks


@dataclass(frozen=True)
class _Entry:
    competition_id: int | None
    slug: str
    title: str
    numbers: list
    in_draw: bool


def _entries(receipt: Receipt) -> list[_Entry]:
    """What the receipt says was entered, per competition, read from its payload as it is in
    the row: a row altered out of shape still shows (and fails its signature check)."""
    payload = receipt.payload if isinstance(receipt.payload, dict) else {}
    entries = payload.get("entries")
    found = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        competition = entry.get("competition")
        competition = competition if isinstance(competition, dict) else {}
        numbers = entry.get("numbers")
        found.append(
            _Entry(
                competition_id=competition.get("id")
                if isinstance(competition.get("id"), int)
                else None,
                slug=str(competition.get("slug") or ""),
                title=str(competition.get("title") or "?"),
                numbers=numbers if isinstance(numbers, list) else [],
                in_draw=entry.get("in_draw", True) is not False,
            )
        )
    return found


def _competition_link(entry: _Entry):
    if entry.competition_id is None:
        return entry.title
    url = reverse("admin:competitions_competition_change", args=[entry.competition_id])
    return format_html('<a href="{}">{}</a>', url, entry.title)


def _draw_page(entry: _Entry) -> str | None:
    """The competition's public draw page, where its customers check a receipt against the
    frozen entry ledger ("Check it yourself")."""
    try:
        return reverse("draws:detail", args=[entry.slug]) + "#verify"
    except NoReverseMatch:
        return None


@admin.register(Receipt)
class ReceiptAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("receipt_reference", "kind", "customer", "entered_in", "key_id", "issued")
    list_display_links = ("receipt_reference",)
    list_filter = ("kind", "key_id")
    list_select_related = ("user",)
    search_fields = ("reference", "user__email")
    search_help_text = "A receipt or order reference, or the customer's e-mail."
    ordering = ("-issued_at", "-id")
    show_full_result_count = False  # one receipt per order: as big as the orders table
    fieldsets = (
        (
            None,
            {"fields": ("reference", "kind", "customer_account", "source", "entries", "issued_at")},
        ),
        ("Signature", {"fields": ("verification", "signing_key", "signature")}),
        (
            "Signed payload",
            {
                "fields": ("payload_pretty",),
                "description": "What the signature covers, as signed. The signature is over "
                "its canonical form: these keys, sorted, with no whitespace, in UTF-8.",
            },
        ),
        ("Check it as the customer would", {"fields": ("public_checks",)}),
    )
    readonly_fields = (
        "reference",
        "kind",
        "customer_account",
        "source",
        "entries",
        "issued_at",
        "verification",
        "signing_key",
        "signature",
        "payload_pretty",
        "public_checks",
    )

    # --- the list ---------------------------------------------------------------------------

    @admin.display(description="reference", ordering="reference")
    def receipt_reference(self, obj):
        return format_html('<span class="fd-nowrap">{}</span>', obj.reference)

    @admin.display(description="issued", ordering="issued_at")
    def issued(self, obj):
        moment = timezone.localtime(obj.issued_at)
        return f"{moment:%d %b %Y %H:%M}"

    @admin.display(description="customer", ordering="user__email")
    def customer(self, obj):
        return obj.user.email

    @admin.display(description="entered in")
    def entered_in(self, obj):
        competitions = format_html_join(
            ", ", "{}", ((_competition_link(entry),) for entry in _entries(obj))
        )
        if obj.order_id is None:
            return competitions or "—"
        order = reverse("admin:tickets_order_change", args=[obj.order_id])
        return format_html('{} · <a href="{}">the order</a>', competitions, order)

    # --- the detail page --------------------------------------------------------------------

    @admin.display(description="for")
    def source(self, obj):
        if obj.order_id is not None:
            url = reverse("admin:tickets_order_change", args=[obj.order_id])
            return format_html('<a href="{}">Order {}</a>', url, obj.reference)
        url = reverse("admin:tickets_postalentry_changelist")
        return format_html(
            'Free postal entry {} (<a href="{}?user__id__exact={}&amp;competition__id__exact={}">'
            "the customer's postal entries in this competition</a>)",
            obj.reference,
            url,
            obj.user_id,
            obj.competition_id,
        )

    @admin.display(description="entries")
    def entries(self, obj):
        rows = [
            (
                _competition_link(entry),
                len(entry.numbers),
                ", ".join(f"#{n}" for n in entry.numbers),
                "in the draw" if entry.in_draw else "not in the draw (wrong answer)",
            )
            for entry in _entries(obj)
        ]
        if not rows:
            return "—"
        return format_html(
            '<ul class="fd-list">{}</ul>',
            format_html_join("", "<li>{}: {} number(s), {}; {}</li>", rows),
        )

    @admin.display(description="customer")
    def customer_account(self, obj):
        url = reverse("admin:accounts_user_change", args=[obj.user_id])
        return format_html('<a href="{}">{}</a>', url, obj.user.email)

    @admin.display(description="signature check")
    def verification(self, obj):
        checks = receipt_signature_checks(obj)
        items = format_html_join(
            "",
            '<li class="{}">{} {}{}</li>',
            (
                (
                    "fd-ok" if check.ok else "fd-bad",
                    "✓" if check.ok else "✗",
                    check.name,
                    "" if check.ok else f" — expected {check.expected}; found {check.actual}",
                )
                for check in checks
            ),
        )
        if all(check.ok for check in checks):
            verdict = format_html(
                '<strong class="fd-ok">✓ Verifies</strong> against the key published at '
                '<a href="{}">/receipts/keys.json</a>, checked just now.',
                reverse("tickets:receipt_keys"),
            )
        else:
            verdict = format_html(
                '<strong class="fd-bad">✗ Does not verify</strong> against the keys published '
                'at <a href="{}">/receipts/keys.json</a>: the row no longer matches what was '
                "signed, or its key is not published. The customer's own copy is what counts; "
                "do not re-sign it here.",
                reverse("tickets:receipt_keys"),
            )
        return format_html('{}<ul class="fd-list">{}</ul>', verdict, items)

    @admin.display(description="signed with key")
    def signing_key(self, obj):
        key_pk = ReceiptKey.objects.filter(key_id=obj.key_id).values_list("pk", flat=True).first()
        if key_pk is None:
            return format_html("{} (not a published key)", obj.key_id)
        url = reverse("admin:tickets_receiptkey_change", args=[key_pk])
        return format_html('<a href="{}">{}</a>', url, obj.key_id)

    @admin.display(description="signature")
    def signature(self, obj):
        return format_html('<code class="fd-break-all">{}</code>', obj.signature)

    @admin.display(description="payload")
    def payload_pretty(self, obj):
        text = json.dumps(obj.payload, indent=2, sort_keys=True, ensure_ascii=False)
        return format_html('<pre class="fd-json">{}</pre>', text)

    @admin.display(description="public checks")
    def public_checks(self, obj):
        download = reverse("tickets:receipt", args=[obj.reference])
        pages = format_html_join(
            "",
            "<li>The draw page of “{}”, where they check it against the entry ledger after "
            'the close: <a href="{}">{}</a></li>',
            (
                (entry.title, url, url.removesuffix("#verify"))
                for entry in _entries(obj)
                if (url := _draw_page(entry))
            ),
        )
        return format_html(
            '<ul class="fd-list">'
            '<li>The receipt as the customer downloads it: <a href="{}">{}</a></li>'
            '<li>The published signing keys: <a href="{}">{}</a></li>'
            "{}</ul>",
            download,
            download,
            reverse("tickets:receipt_keys"),
            reverse("tickets:receipt_keys"),
            pages,
        )


class KeyStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return (("current", "Current (signs new receipts)"), ("retired", "Retired"))

    def queryset(self, request, queryset):
        if self.value() == "current":
            return queryset.filter(retired_at__isnull=True)
        if self.value() == "retired":
            return queryset.filter(retired_at__isnull=False)
        return queryset


@admin.register(ReceiptKey)
class ReceiptKeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Keys appear here the first time they sign (FAIRDRAW_RECEIPT_KEYS, `manage.py
    receipt_key`), never by hand: see the module docstring."""

    list_display = ("key_id", "public_key_text", "valid_from", "retired_at", "receipts_link")
    list_filter = (KeyStatusFilter,)
    search_fields = ("key_id", "public_key")
    search_help_text = "A key id or a public key."
    ordering = ("-valid_from", "-id")
    fields = ("key_id", "public_key_text", "valid_from", "retired_at", "receipts_link")
    readonly_fields = fields
    change_list_template = "admin/tickets/receiptkey/change_list.html"

    @admin.display(description="public key (Ed25519, base64)", ordering="public_key")
    def public_key_text(self, obj):
        return format_html('<code class="fd-break-all">{}</code>', obj.public_key)

    @admin.display(description="receipts")
    def receipts_link(self, obj):
        url = reverse("admin:tickets_receipt_changelist")
        return format_html('<a href="{}?key_id={}">Receipts signed with it</a>', url, obj.key_id)
