"""Responsible play: the history of each customer's monthly spending limit. Exclusions
(breaks, self-exclusion, closure) are fields of `accounts.User`, since every login and
purchase reads them."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class SpendLimit(models.Model):
    """One request by a customer (or staff for them) to set their monthly spending limit.

    The rows are the history the code of practice asks for: nothing is updated but
    `cancelled_at`, set when a later request supersedes one still waiting for its cooling-off.
    The limit in force is the latest request already effective (responsible_play.limits)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="spend_limits"
    )
    monthly_limit = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Blank: no personal limit (the operator's cap still applies).",
    )
    requested_at = models.DateTimeField(default=timezone.now)
    effective_at = models.DateTimeField()
    cancelled_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        db_table = "accounts_spendlimit"
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(monthly_limit__isnull=True) | models.Q(monthly_limit__gte=0),
                name="spendlimit_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(effective_at__gte=models.F("requested_at")),
                name="spendlimit_effective_after_request",
            ),
        ]
        indexes = [models.Index(fields=["user", "effective_at"], name="spendlimit_user_idx")]

    def __str__(self):
        shown = "no limit" if self.monthly_limit is None else f"£{self.monthly_limit}"
        return f"{self.user} {shown} from {self.effective_at:%Y-%m-%d %H:%M}"


class SpendLimitPrompt(models.Model):
    """When a customer was first asked to set a monthly limit (the welcome prompt after
    sign-up, responsible_play.limits.spend_limit_prompt_shown): the record behind "customers
    prompted for a limit" on How we comply. One row per customer, never updated."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="spend_limit_prompt",
    )
    shown_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.user} asked to set a limit on {self.shown_at:%Y-%m-%d}"
