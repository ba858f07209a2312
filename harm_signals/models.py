"""Harm signals: customers flagged for staff review, and what staff did about them."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class HarmFlag(models.Model):
    """A customer flagged by one of the harm-signal rules, for staff to review.

    At most one open flag per customer and rule: a rule that fires again updates the open flag
    (`last_seen_at`, `detail`) rather than adding another. Staff close it with an outcome."""

    class Rule(models.TextChoices):
        ENTRIES_PER_DAY = "entries_per_day", "Many entries in one day"
        SPEND_VS_LIMIT = "spend_vs_limit", "Spend close to the monthly limit"
        LIMIT_RAISED = "limit_raised", "Limit raised repeatedly"
        DECLINED_PAYMENTS = "declined_payments", "Many declined payments"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACTIONED = "actioned", "Actioned"
        DISMISSED = "dismissed", "Dismissed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="harm_flags"
    )
    rule = models.CharField(max_length=20, choices=Rule.choices)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    detail = models.CharField(max_length=255)
    value = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    threshold = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        db_table = "accounts_harmflag"
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "rule"],
                condition=models.Q(status="open"),
                name="harmflag_one_open_per_rule",
            ),
            models.CheckConstraint(
                condition=models.Q(status="open") | models.Q(closed_at__isnull=False),
                name="harmflag_closed_has_timestamp",
            ),
        ]

    def __str__(self):
        return f"{self.user}: {self.get_rule_display()}"


class HarmAction(models.Model):
    """A note or action by staff about a flagged customer: the action history."""

    class Kind(models.TextChoices):
        NOTE = "note", "Note"
        CONTACTED = "contacted", "Contacted the customer"
        LIMIT_SET = "limit_set", "Spend limit set"
        BREAK = "break", "Break or exclusion applied"
        ACTIONED = "actioned", "Flag closed: actioned"
        DISMISSED = "dismissed", "Flag closed: no action needed"
        REOPENED = "reopened", "Flag reopened"

    flag = models.ForeignKey(
        HarmFlag, on_delete=models.CASCADE, null=True, blank=True, related_name="actions"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="harm_actions"
    )
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.NOTE)
    note = models.TextField(blank=True)

    class Meta:
        db_table = "accounts_harmaction"
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.user}: {self.get_kind_display()}"
