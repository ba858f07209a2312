from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from .exceptions import CompetitionLocked
from .lifecycle import FINAL, Status, derive_status, status_q

MONEY = {"max_digits": 12, "decimal_places": 2}


class CompetitionQuerySet(models.QuerySet):
    def with_status(self, status: str, now=None):
        return self.filter(status_q(status, now or timezone.now()))

    def public(self):
        """Everything a visitor may see: never drafts. Every public page, form and API that
        looks a competition up (by id or slug) starts from this."""
        return self.exclude(status=Status.DRAFT)

    def final(self):
        return self.filter(status__in=FINAL)

    def not_final(self):
        return self.exclude(status__in=FINAL)


# docs/architecture.md §2: what was sold is fixed once a competition is final (drawn or cancelled): tickets
# were priced, numbered, dated and judged against these. Entries are judged against the
# question from the first sale, so it is fixed from activation on.
LOCKED_WHEN_FINAL = (
    "ticket_price",
    "max_tickets",
    "max_tickets_per_user",
    "min_tickets",
    "starts_at",
    "ends_at",
    "draw_at",
    "question",
    "one_prize_per_customer",
)
# The draw's rule for several prizes is part of what was promised from the first sale.
LOCKED_WHEN_ACTIVATED = ("question", "one_prize_per_customer")


class MinimumOutcome(models.TextChoices):
    """What happens when a competition closes with fewer entries than its minimum
    (docs/architecture.md §2, "Below the minimum at close")."""

    HOLD = "hold", "Hold it for staff to decide"
    EXTEND = "extend", "Extend the closing time"
    CANCEL = "cancel", "Cancel and refund everyone"
    DRAW_ANYWAY = "draw_anyway", "Draw anyway among the entries received"


class Competition(models.Model):
    """A prize competition: tickets numbered 1..max_tickets, sold until it ends, then drawn."""

    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True)
    summary = models.CharField(max_length=300, blank=True, help_text="One line for listings.")
    prize_description = models.TextField()
    prize_value = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal("0"))])
    cash_alternative = models.DecimalField(
        **MONEY, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))]
    )
    ticket_price = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal("0.01"))])
    max_tickets = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    max_tickets_per_user = models.PositiveIntegerField(
        "max tickets per customer", validators=[MinValueValidator(1)]
    )
    min_tickets = models.PositiveIntegerField(
        "minimum tickets",
        null=True,
        blank=True,
        help_text="Optional threshold: below it at close, the outcome below applies.",
    )
    min_tickets_outcome = models.CharField(
        "below the minimum at close",
        max_length=12,
        choices=MinimumOutcome.choices,
        default=MinimumOutcome.HOLD,
        help_text="Applied automatically at close when fewer than the minimum were sold.",
    )
    min_tickets_extend_days = models.PositiveSmallIntegerField(
        "extend by (days)", default=7, validators=[MinValueValidator(1)]
    )
    min_tickets_max_extensions = models.PositiveSmallIntegerField(
        "extend at most (times)", default=1, validators=[MinValueValidator(1)]
    )
    min_tickets_then = models.CharField(
        "after the last extension",
        max_length=12,
        choices=[
            (MinimumOutcome.CANCEL, MinimumOutcome.CANCEL.label),
            (MinimumOutcome.DRAW_ANYWAY, MinimumOutcome.DRAW_ANYWAY.label),
        ],
        default=MinimumOutcome.CANCEL,
        help_text="When extended as often as allowed and still below the minimum.",
    )
    # Maintained by the ticket services inside the allocation transaction; the check
    # constraint below is the database's own guarantee that nothing is oversold.
    tickets_sold = models.PositiveIntegerField(default=0, editable=False)
    # Numbers held by checkouts awaiting payment (tickets in status "reserved"). They are not
    # sold, so they never close a competition, but they are not for sale either.
    tickets_reserved = models.PositiveIntegerField(default=0, editable=False)

    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    draw_at = models.DateTimeField(help_text="When the draw takes place (at or after the end).")

    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    is_featured = models.BooleanField("featured", default=False)
    auto_draw_enabled = models.BooleanField("automatic draw", default=True)
    one_prize_per_customer = models.BooleanField(
        default=False,
        help_text="With several draw prizes: a customer wins at most one (the draw skips "
        "their other entries, verifiably). Fixed at activation.",
    )

    question = models.CharField("skill question", max_length=300)

    # Commit–reveal (docs/architecture.md §4): the secret seed is made at activation and kept
    # out of every page, API and admin list until the draw reveals it; its SHA-256 is public
    # from the start.
    seed_commitment = models.CharField(max_length=64, blank=True, editable=False)
    draw_seed = models.CharField(max_length=64, blank=True, editable=False)
    # The public beacon round the draw will mix in, fixed by rule with the commitment and
    # published with it (set by draws; docs/architecture.md §4.3).
    beacon_chain = models.CharField(max_length=64, blank=True, editable=False)
    beacon_round = models.PositiveBigIntegerField(null=True, blank=True, editable=False)
    # Instant wins (docs/architecture.md §4, item 6): the numbers are chosen from the seed at
    # activation (InstantWin rows, never shown before won); this commitment to their list is
    # public from the start, the salt only after close.
    instant_wins_commitment = models.CharField(max_length=64, blank=True, editable=False)
    instant_wins_salt = models.CharField(max_length=64, blank=True, editable=False)

    activated_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CompetitionQuerySet.as_manager()

    class Meta:
        ordering = ["ends_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ticket_price__gt=0), name="competition_price_positive"
            ),
            models.CheckConstraint(
                condition=Q(prize_value__gte=0), name="competition_value_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(max_tickets__gt=0), name="competition_max_tickets_positive"
            ),
            models.CheckConstraint(
                condition=Q(max_tickets_per_user__gt=0)
                & Q(max_tickets_per_user__lte=F("max_tickets")),
                name="competition_per_user_limit_in_range",
            ),
            models.CheckConstraint(
                condition=Q(min_tickets__isnull=True) | Q(min_tickets__lte=F("max_tickets")),
                name="competition_min_tickets_in_range",
            ),
            models.CheckConstraint(
                condition=Q(min_tickets_then__in=["cancel", "draw_anyway"]),
                name="competition_min_tickets_then_is_final",
            ),
            models.CheckConstraint(
                condition=Q(tickets_sold__lte=F("max_tickets") - F("tickets_reserved")),
                name="competition_never_oversold",
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="competition_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(draw_at__gte=F("ends_at")), name="competition_draw_after_end"
            ),
            models.CheckConstraint(
                condition=Q(status=Status.DRAFT) | ~Q(seed_commitment=""),
                name="competition_activated_has_commitment",
            ),
        ]
        indexes = [models.Index(fields=["status", "ends_at"])]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        # The lock below (docs/architecture.md §2) holds for every save, whoever calls it.
        if changed := self.locked_changes(kwargs.get("update_fields")):
            raise CompetitionLocked(
                f"“{self}” is {self._stored['status']}: {', '.join(changed)} cannot change."
            )
        super().save(*args, **kwargs)
        self._remember_stored()

    def get_absolute_url(self):
        return reverse("competitions:detail", kwargs={"slug": self.slug})

    # --- the lock (docs/architecture.md §2), enforced here for every save, not only by read-only admin fields.
    # The stored values are remembered when the row is loaded, so checking costs no query.
    # Queryset `.update()` bypasses save(); only services use it, never on locked fields.

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._remember_stored()
        return instance

    def refresh_from_db(self, *args, **kwargs):
        super().refresh_from_db(*args, **kwargs)
        self._remember_stored()

    def _remember_stored(self) -> None:
        deferred = self.get_deferred_fields()
        self._stored = {
            name: getattr(self, name)
            for name in ("status", *LOCKED_WHEN_FINAL)
            if name not in deferred
        }

    @property
    def is_final(self) -> bool:
        """Drawn or cancelled: over for good (as stored, see `competitions.lifecycle.FINAL`)."""
        return self.status in FINAL

    def locked_changes(self, fields=None) -> list[str]:
        """The fields changed since this row was loaded that its stored status fixes."""
        stored = getattr(self, "_stored", None)
        if self.pk is None or not stored or "status" not in stored:
            return []
        if stored["status"] in FINAL:
            locked = LOCKED_WHEN_FINAL
        elif stored["status"] != Status.DRAFT:
            locked = LOCKED_WHEN_ACTIVATED
        else:
            return []
        return [
            name
            for name in locked
            if name in stored
            and (fields is None or name in fields)
            and getattr(self, name) != stored[name]
        ]

    def clean(self):
        super().clean()
        if changed := self.locked_changes():
            raise ValidationError(
                dict.fromkeys(changed, f"Fixed: this competition is {self._stored['status']}.")
            )

    def live_status(self, now=None) -> Status:
        return derive_status(
            stored=self.status,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            tickets_sold=self.tickets_sold,
            max_tickets=self.max_tickets,
            now=now or timezone.now(),
        )

    @property
    def tickets_left(self) -> int:
        """Tickets a customer can still buy: neither sold nor held by someone's checkout."""
        return max(self.max_tickets - self.tickets_sold - self.tickets_reserved, 0)

    @property
    def percent_sold(self) -> int:
        return min(100, (self.tickets_sold * 100) // self.max_tickets) if self.max_tickets else 0

    @property
    def is_sold_out(self) -> bool:
        return self.tickets_sold >= self.max_tickets

    def is_closing_soon(self, now=None) -> bool:
        now = now or timezone.now()
        window = timedelta(hours=settings.FAIRDRAW_CLOSING_SOON_HOURS)
        return self.live_status(now) == Status.ACTIVE and self.ends_at - now <= window

    @property
    def cover_image(self):
        images = list(self.images.all())  # uses prefetch_related when the caller set it up
        return images[0] if images else None


def competition_image_path(instance, filename):
    return f"competitions/{instance.competition_id or 'new'}/{filename}"


class CompetitionImage(models.Model):
    competition = models.ForeignKey(Competition, on_delete=models.CASCADE, related_name="images")
    image = models.ImageField(upload_to=competition_image_path)
    alt_text = models.CharField(
        max_length=200, help_text="Describe the picture for screen readers."
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["competition", "position", "id"]

    def __str__(self):
        return self.alt_text


class AnswerChoice(models.Model):
    """One multiple-choice answer to a competition's skill question."""

    competition = models.ForeignKey(Competition, on_delete=models.CASCADE, related_name="answers")
    text = models.CharField(max_length=200)
    is_correct = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["competition", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["competition"],
                condition=Q(is_correct=True),
                name="answer_one_correct_per_competition",
            ),
        ]

    def __str__(self):
        return self.text


class Prize(models.Model):
    """What can be won. Draw prizes are awarded in position order (1st, 2nd, ...) by the draw;
    an instant-win prize is `quantity` identical prizes (e.g. £10 cash × 20), each won by the
    ticket holding one of the numbers chosen from the seed at activation (InstantWin). Staff
    never choose those numbers."""

    class Kind(models.TextChoices):
        DRAW = "draw", "Draw prize"
        INSTANT = "instant", "Instant win"

    competition = models.ForeignKey(Competition, on_delete=models.CASCADE, related_name="prizes")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.DRAW)
    position = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Draw prizes: 1 for the 1st prize, 2 for the 2nd, ..."
    )
    quantity = models.PositiveIntegerField(
        "count",
        default=1,
        validators=[MinValueValidator(1)],
        help_text="Instant wins: how many of this prize can be won (1 for a draw prize). "
        "The winning numbers are chosen at random at activation.",
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    value = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal("0"))])
    cash_alternative = models.DecimalField(
        **MONEY, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))]
    )

    class Meta:
        ordering = ["competition", "kind", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="draw", position__gte=1, quantity=1)
                    | Q(kind="instant", position__isnull=True, quantity__gte=1)
                ),
                name="prize_draw_has_position_instant_has_count",
            ),
            models.UniqueConstraint(
                fields=["competition", "position"],
                condition=Q(kind="draw"),
                name="prize_unique_draw_position",
            ),
            models.CheckConstraint(condition=Q(value__gte=0), name="prize_value_not_negative"),
        ]

    def __str__(self):
        if self.kind == self.Kind.DRAW:
            return f"{ordinal(self.position)} prize: {self.title}"
        return f"Instant win: {self.title} × {self.quantity}"

    def clean(self):
        if self.kind == self.Kind.INSTANT and self.position is not None:
            raise ValidationError({"position": "Instant wins have no position; leave it empty."})
        if self.kind == self.Kind.DRAW and self.quantity != 1:
            raise ValidationError({"quantity": "A draw prize is one prize: count 1."})


class InstantWin(models.Model):
    """One instant-win number: chosen from the seed at activation (draws.receivers), secret
    until its ticket is sold (or the competition closes), won at most once. `won_at` is set by
    a compare-and-set (tickets.instant_wins), and a winner refers to this row one-to-one, so a
    number is never awarded twice whatever delivers the payment how often.

    `voided_at`: the win is void, for the public reason `void_reason`: the ticket that won it
    was refunded (winners.services.instant_wins_void), or staff rejected its winner, who failed
    verification (winners.services.winner_reject). The number stays won: it was published as
    won, so reopening it would hand the prize to whoever picks that number next; the prize is
    not awarded again, and a void win is never reinstated."""

    class VoidReason(models.TextChoices):
        # The labels are public: the competition page and the draw API show them.
        REFUNDED = "refunded", "the ticket was refunded"
        INELIGIBLE = "ineligible", "the winner was not eligible"

    competition = models.ForeignKey(
        Competition, on_delete=models.CASCADE, related_name="instant_wins"
    )
    prize = models.ForeignKey(Prize, on_delete=models.PROTECT, related_name="instant_wins")
    number = models.PositiveIntegerField()
    won_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The win is void (its ticket was refunded, or its winner rejected).",
    )
    void_reason = models.CharField(
        max_length=12, choices=VoidReason.choices, blank=True, help_text="Why the win is void."
    )

    class Meta:
        ordering = ["competition", "prize", "number"]
        constraints = [
            # Also the index the award's join reads: (competition, number).
            models.UniqueConstraint(
                fields=["competition", "number"], name="instant_win_unique_number"
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="instant_win_number_positive"),
            models.CheckConstraint(
                condition=Q(voided_at__isnull=True) | Q(won_at__isnull=False),
                name="instant_win_voided_was_won",
            ),
            # A void win says why, in public; a standing one has no reason.
            models.CheckConstraint(
                condition=Q(voided_at__isnull=True, void_reason="")
                | Q(voided_at__isnull=False, void_reason__in=["refunded", "ineligible"]),
                name="instant_win_void_has_reason",
            ),
        ]

    def __str__(self):
        return f"Instant win for {self.prize.title}"


class Bundle(models.Model):
    """A multi-buy price ("5 tickets for £4.00"): staff set it on the competition; a basket line
    is priced by the cheapest mix of bundles and single tickets (competitions.pricing), so a
    bundle never makes an order dearer than single tickets."""

    competition = models.ForeignKey(Competition, on_delete=models.CASCADE, related_name="bundles")
    quantity = models.PositiveIntegerField(
        validators=[MinValueValidator(2)], help_text="Tickets in the bundle (2 or more)."
    )
    price = models.DecimalField(
        **MONEY,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text="What the whole bundle costs; less per ticket than the single price.",
    )

    class Meta:
        ordering = ["competition", "quantity"]
        constraints = [
            models.UniqueConstraint(
                fields=["competition", "quantity"], name="bundle_one_price_per_quantity"
            ),
            models.CheckConstraint(condition=Q(quantity__gte=2), name="bundle_quantity_above_one"),
            models.CheckConstraint(condition=Q(price__gt=0), name="bundle_price_positive"),
        ]

    def __str__(self):
        return f"{self.quantity} for £{self.price}"

    def clean(self):
        """Cheaper per ticket than buying singles (the database cannot compare with the
        competition's row; the pricing rule ignores a bundle that is not)."""
        competition = getattr(self, "competition", None)
        if competition is None or self.quantity is None or self.price is None:
            return
        if competition.ticket_price and self.price >= competition.ticket_price * self.quantity:
            raise ValidationError(
                {
                    "price": f"{self.quantity} single tickets cost "
                    f"£{competition.ticket_price * self.quantity}: a bundle must cost less."
                }
            )


def ordinal(n: int | None) -> str:
    if n is None:
        return ""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class MinimumOutcomeRecord(models.Model):
    """An outcome applied because a competition was below its minimum: one per close (the
    original close is 0, the close after the first extension 1, ...), so the periodic job
    running twice applies nothing twice. Written by `draws.minimum` (extend, cancel, draw
    anyway), automatically (`decided_by` empty) or by staff overriding with a reason.
    Public: the competition page says what happened."""

    competition = models.ForeignKey(
        Competition, on_delete=models.PROTECT, related_name="minimum_outcomes"
    )
    close_number = models.PositiveSmallIntegerField()
    outcome = models.CharField(
        max_length=12, choices=[c for c in MinimumOutcome.choices if c[0] != "hold"]
    )
    closed_at = models.DateTimeField(help_text="The closing time at which the minimum was missed.")
    new_ends_at = models.DateTimeField(null=True, blank=True, help_text="Extensions: new close.")
    tickets_sold = models.PositiveIntegerField()
    min_tickets = models.PositiveIntegerField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(blank=True)
    decided_at = models.DateTimeField()

    class Meta:
        ordering = ["competition", "close_number"]
        verbose_name = "minimum-tickets outcome"
        constraints = [
            models.UniqueConstraint(
                fields=["competition", "close_number"], name="minimum_outcome_once_per_close"
            ),
            models.CheckConstraint(
                condition=~Q(outcome="extend") | Q(new_ends_at__isnull=False),
                name="minimum_outcome_extension_has_close",
            ),
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True) | ~Q(reason=""),
                name="minimum_outcome_override_has_reason",
            ),
        ]

    def __str__(self):
        return f"{self.competition}: {self.get_outcome_display()} (close {self.close_number})"


class SkillAnswerStats(models.Model):
    """How a competition's skill question is being answered: answers given with paid entries and
    how many were wrong (competitions.services.skill_answers_record).

    Counters rather than a row per answer: staff want the rate per competition, and a
    competition is already a window of time, so nothing needs the individual answers (the
    order lines keep each one anyway). A table of its own, not columns on Competition: payment
    adds to it while the sale's own row locks are held, and the competition's row is the hot
    one every checkout takes (docs/architecture.md §3)."""

    competition = models.OneToOneField(
        Competition, on_delete=models.CASCADE, primary_key=True, related_name="skill_stats"
    )
    answered = models.PositiveIntegerField(default=0)
    wrong = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "skill answer figures"
        verbose_name_plural = "skill answer figures"
        constraints = [
            models.CheckConstraint(
                condition=Q(wrong__lte=F("answered")), name="skillstats_wrong_within_answered"
            ),
        ]

    def __str__(self):
        return f"{self.wrong} of {self.answered} wrong in {self.competition_id}"

    @property
    def wrong_percent(self) -> float | None:
        return self.wrong * 100 / self.answered if self.answered else None
