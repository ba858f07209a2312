from django.conf import settings
from django.db import models
from django.db.models import Q

from competitions.models import Competition
from tickets.models import Ticket


class Draw(models.Model):
    """The event that picks a competition's winners, with everything needed to re-check it.

    One row per competition. It is created when the entry ledger is frozen at close (status
    pending: ledger hash and count recorded, seed still secret) and completed by the draw,
    which must find the same ledger. See `draws.services`."""

    class Mode(models.TextChoices):
        AUTOMATIC = "automatic", "Automatic (scheduled)"
        ADMIN = "admin", "Admin-triggered"
        MANUAL = "manual", "Manual winner entry"

    class Status(models.TextChoices):
        PENDING = "pending", "Ledger frozen, awaiting the draw"
        COMPLETED = "completed", "Completed"
        NO_ENTRIES = "no_entries", "Closed without entries"

    competition = models.ForeignKey(Competition, on_delete=models.PROTECT, related_name="draws")
    mode = models.CharField(max_length=10, choices=Mode.choices, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.COMPLETED)
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    performed_at = models.DateTimeField(null=True, blank=True)
    ledger_frozen_at = models.DateTimeField(
        null=True, blank=True, help_text="When the entry ledger was frozen (at close)."
    )
    seed = models.CharField(max_length=64, blank=True, help_text="Revealed secret seed (hex).")
    seed_commitment = models.CharField(max_length=64)
    ledger_hash = models.CharField(max_length=64)
    entry_count = models.PositiveIntegerField()
    # The draw's shortcut (draws.selectors.ledger_freeze): the ledger's version when it was
    # frozen, and where each block of it starts, so an unchanged ledger is not read again.
    ledger_version = models.BigIntegerField(
        null=True,
        blank=True,
        editable=False,
        help_text="LedgerVersion at the freeze; empty where the database keeps none (SQLite).",
    )
    ledger_marks = models.JSONField(
        default=list,
        blank=True,
        editable=False,
        help_text="[ledger index, number] of the first entry of each block of the frozen ledger.",
    )
    owners_hash = models.CharField(
        max_length=64,
        blank=True,
        help_text="One prize per customer: SHA-256 of the owners list (a pseudonymous owner "
        "label per ledger entry), committed with the ledger at the freeze.",
    )
    entropy = models.CharField(
        max_length=200,
        blank=True,
        help_text="Public randomness mixed in: the beacon round's randomness (hex).",
    )
    # The beacon round the randomness came from, as fetched and verified (draws.beacon).
    # Empty on draws made before beacon-bound draws, whose entropy was given by staff.
    beacon_chain = models.CharField(max_length=64, blank=True)
    beacon_round = models.PositiveBigIntegerField(null=True, blank=True)
    beacon_signature = models.CharField(max_length=200, blank=True)
    beacon_demo = models.BooleanField(
        default=False, help_text="The round came from the local demo beacon, not drand."
    )
    winning_index = models.PositiveIntegerField(null=True, blank=True)
    winning_ticket = models.ForeignKey(
        Ticket, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    manual_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-performed_at", "-id"]
        get_latest_by = "performed_at"
        constraints = [
            models.UniqueConstraint(
                fields=["competition"],
                condition=Q(status="completed"),
                name="draw_one_completed_per_competition",
            ),
            # The frozen ledger and its draw share one row: never two for a competition.
            models.UniqueConstraint(fields=["competition"], name="draw_one_per_competition"),
            models.CheckConstraint(
                condition=Q(status="pending") | (~Q(mode="") & Q(performed_at__isnull=False)),
                name="draw_done_has_mode_and_time",
            ),
            # Commit–reveal: the seed is stored on the draw only once it is revealed.
            models.CheckConstraint(
                condition=~Q(status="pending") | Q(seed=""), name="draw_pending_keeps_seed_secret"
            ),
            models.CheckConstraint(
                condition=~Q(mode="manual") | ~Q(manual_reason=""), name="draw_manual_has_reason"
            ),
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(winning_ticket__isnull=False),
                name="draw_completed_has_winner",
            ),
        ]

    def __str__(self):
        if self.status == self.Status.PENDING:
            return f"Draw for {self.competition} (ledger frozen)"
        return f"Draw for {self.competition} ({self.get_mode_display()})"

    @property
    def is_done(self) -> bool:
        return self.status != self.Status.PENDING

    @property
    def is_manual(self) -> bool:
        return self.mode == self.Mode.MANUAL


class LedgerVersion(models.Model):
    """How many times a competition's entry ledger has changed: a PostgreSQL trigger on
    tickets_ticket (migration draws 0003) adds one for every statement that inserts, deletes
    or changes an active ticket, after taking the competition's row lock (the selling path's
    lock order). No Python code writes it, whichever path changes a ticket.

    The freeze records it; a draw that finds it unchanged knows the ledger is the frozen one
    without reading it again. No row means no change yet (version 0). SQLite has no trigger:
    there the draw always re-hashes the ledger."""

    competition = models.OneToOneField(
        Competition, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    version = models.BigIntegerField(default=0)

    def __str__(self):
        return f"Ledger of {self.competition_id}, version {self.version}"


class DrawLogEntry(models.Model):
    """Append-only record of every step around a competition's draw: who, when, inputs, outcome."""

    competition = models.ForeignKey(Competition, on_delete=models.PROTECT, related_name="draw_log")
    draw = models.ForeignKey(
        Draw, on_delete=models.PROTECT, null=True, blank=True, related_name="log"
    )
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=40)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = "draw log entry"
        verbose_name_plural = "draw log"

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}"


class Redraw(models.Model):
    """A prize drawn again after its winner was disqualified (docs/architecture.md §4.7).

    Recorded, with its reason, when staff disqualify the winner (`draws.services.redraw_announce`,
    called by `winners.services.winner_disqualify`); the beacon round it will use is fixed then by
    the same rule as a draw's (the first round at or after now plus the margin) and published.
    Performed once that round is out (`redraw_perform`: beat, admin or command), from the same
    frozen entry ledger, never landing on an index in `excluded_indexes` (every earlier winner
    of the competition, the disqualified one included) nor, when the competition gives one prize
    per customer, on any entry of those winners' owners (from the owners list committed at the
    freeze: the rule is recomputed from published data, not stored here)."""

    class Reason(models.TextChoices):
        AGE = "age_check", "Failed the age check (under 18)"
        IDENTITY = "identity_check", "Failed the identity check"
        NO_REPLY = "no_reply", "No reply by the operator's deadline"
        INELIGIBLE = "ineligible", "Not eligible under the terms"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for its beacon round"
        COMPLETED = "completed", "Redrawn"
        NO_ENTRIES = "no_entries", "No eligible entry left"

    competition = models.ForeignKey(Competition, on_delete=models.PROTECT, related_name="redraws")
    draw = models.ForeignKey(Draw, on_delete=models.PROTECT, related_name="redraws")
    prize = models.ForeignKey("competitions.Prize", on_delete=models.PROTECT, related_name="+")
    sequence = models.PositiveIntegerField(help_text="1 for the competition's first redraw, …")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    disqualified_ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="+")
    disqualified_index = models.PositiveIntegerField()
    disqualified_name = models.CharField(
        max_length=100, blank=True, help_text="As the site showed the winner (published name)."
    )
    reason = models.CharField(max_length=20, choices=Reason.choices)
    reason_detail = models.TextField(help_text="Published on the draw page.")
    excluded_indexes = models.JSONField(
        default=list, help_text="Ledger indexes that cannot win: every earlier winner."
    )
    announced_at = models.DateTimeField()
    announced_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    beacon_chain = models.CharField(max_length=64)
    beacon_round = models.PositiveBigIntegerField()
    beacon_signature = models.CharField(max_length=200, blank=True)
    randomness = models.CharField(max_length=64, blank=True)
    beacon_demo = models.BooleanField(default=False)
    new_index = models.PositiveIntegerField(null=True, blank=True)
    new_ticket = models.ForeignKey(
        Ticket, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    performed_at = models.DateTimeField(null=True, blank=True)
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["competition", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["competition", "sequence"], name="redraw_sequence_per_competition"
            ),
            models.CheckConstraint(condition=~Q(reason_detail=""), name="redraw_has_reason"),
            models.CheckConstraint(
                condition=~Q(status="completed")
                | (Q(new_ticket__isnull=False) & Q(performed_at__isnull=False)),
                name="redraw_completed_has_winner",
            ),
            # One redraw waiting per prize: a second disqualification waits for its result.
            models.UniqueConstraint(
                fields=["prize"], condition=Q(status="pending"), name="redraw_one_pending_per_prize"
            ),
        ]

    def __str__(self):
        return f"Redraw {self.sequence} of {self.competition} ({self.get_status_display()})"


class DrawVerification(models.Model):
    """The result of the last full re-check of a draw (draws.verification.verify_draw), kept
    so that pages can say how many draws pass without re-reading every ledger per view.

    Written by every run of the checks (`verification_record`): `manage.py verify_draw`, the
    admin's "Re-verify", the public draw page (at most once a minute per draw, its cache) and
    the daily beat task that re-checks each completed draw (draws.tasks.verify_draws).
    `performed_at` is the draw's own at the time, so a draw that changes afterwards counts as
    unchecked until it is checked again."""

    draw = models.OneToOneField(
        Draw, on_delete=models.CASCADE, primary_key=True, related_name="verification"
    )
    checked_at = models.DateTimeField(db_index=True)
    passed = models.BooleanField()
    checks = models.PositiveSmallIntegerField(help_text="How many checks ran.")
    failed = models.JSONField(default=list, blank=True, help_text="The checks that failed.")
    performed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "draw verification"

    def __str__(self):
        return f"{self.draw}: {'passed' if self.passed else 'FAILED'} at {self.checked_at}"
