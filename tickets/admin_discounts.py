"""Back-office for discount codes: staff create, edit and switch them off through
`discount_code_save` (audited); uses are counted by checkouts only, so they are read-only here,
with each code's redemptions listed below it."""

from django.contrib import admin
from django.db.models import Count, Q

from core.admin_helpers import ReadOnlyAdminMixin

from .models import DiscountCode, DiscountRedemption
from .services.discounts import discount_code_save


class RedemptionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = DiscountRedemption
    fields = ("order", "user", "amount", "created_at", "released_at")
    readonly_fields = fields
    extra = 0
    ordering = ("-created_at",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order", "user")


@admin.register(DiscountCode)
class DiscountCodeAdmin(admin.ModelAdmin):
    inlines = (RedemptionInline,)
    list_display = (
        "code",
        "terms",
        "is_active",
        "valid_from",
        "valid_until",
        "usage",
        "paid_orders",
        "max_uses_per_customer",
    )
    list_filter = ("is_active", "kind")
    search_fields = ("code", "description")
    raw_id_fields = ("competition",)
    list_select_related = ("competition",)
    readonly_fields = ("uses", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("code", "description", "is_active")}),
        (
            "What it takes off",
            {"fields": ("kind", ("percent", "amount"), "competition", "min_spend")},
        ),
        (
            "When and how often",
            {
                "fields": (
                    ("valid_from", "valid_until"),
                    ("max_uses", "max_uses_per_customer"),
                    "uses",
                )
            },
        ),
        ("Record", {"classes": ("collapse",), "fields": ("created_at", "updated_at")}),
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                paid_count=Count(
                    "redemptions",
                    filter=Q(redemptions__released_at__isnull=True)
                    & Q(redemptions__order__paid_at__isnull=False),
                )
            )
        )

    @admin.display(description="uses")
    def usage(self, obj):
        return f"{obj.uses} / {obj.max_uses}" if obj.max_uses is not None else f"{obj.uses}"

    @admin.display(description="paid orders", ordering="paid_count")
    def paid_orders(self, obj):
        return obj.paid_count

    def save_model(self, request, obj, form, change):
        discount_code_save(code=obj, by=request.user)

    def has_delete_permission(self, request, obj=None):
        # A code that was used stays on record (switch it off instead).
        if obj is not None and obj.redemptions.exists():
            return False
        return super().has_delete_permission(request, obj)
