from django.conf import settings
from django.db import models
from django.db.models import Q

from competitions.models import Competition, InstantWin, Prize
from draws.models import Draw
from tickets.models import Ticket


def winner_media_path(instance, filename):
    return f"winners/{instance.competition_id}/{filename}"


class WinnerQuerySet(models.QuerySet):
    def published(self):
        return self.filter(is_published=True)


class Winner(models.Model):
    """A prize won by a ticket: created by a draw (or by a sale holding an instant-win number),
    then verified, announced and delivered."""

    class Verification(models.TextChoices):
        PENDING = "pending", "Awaiting verification"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    competition = models.ForeignKey(Competition, on_delete=models.PROTECT, related_name="winners")
    # One standing winner per draw prize (constraint below); a disqualified (rejected) one stays
    # on record next to the winner of the redraw (draws.models.Redraw). An instant-win prize has
    # one winner per number (`instant_win`).
    prize = models.ForeignKey(Prize, on_delete=models.PROTECT, related_name="winners")
    instant_win = models.OneToOneField(
        InstantWin, on_delete=models.PROTECT, null=True, blank=True, related_name="winner"
    )
    draw = models.ForeignKey(
        Draw, on_delete=models.PROTECT, null=True, blank=True, related_name="winners"
    )
    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="wins")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="wins"
    )
    ledger_index = models.PositiveIntegerField(
        null=True, blank=True, help_text="Position of the ticket in the frozen entry ledger."
    )
    display_name = models.CharField(max_length=100, help_text="Shown in public, e.g. 'Sarah K.'")
    location = models.CharField(max_length=100, blank=True, help_text="Town, e.g. 'Leeds'.")
    announcement = models.TextField(blank=True)
    announced_at = models.DateTimeField(null=True, blank=True)
    verification_status = models.CharField(
        max_length=10, choices=Verification.choices, default=Verification.PENDING
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    photo = models.ImageField(upload_to=winner_media_path, blank=True)
    video = models.FileField(upload_to=winner_media_path, blank=True)
    is_published = models.BooleanField("published to Champions", default=False)
    published_at = models.DateTimeField(null=True, blank=True)
    prize_delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WinnerQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A ticket wins the draw once; an instant win on it does not stop that.
            models.UniqueConstraint(
                fields=["competition", "ticket"],
                condition=Q(instant_win__isnull=True),
                name="winner_ticket_wins_once",
            ),
            models.UniqueConstraint(
                fields=["prize"],
                condition=~Q(verification_status="rejected") & Q(instant_win__isnull=True),
                name="winner_one_standing_per_prize",
            ),
            models.CheckConstraint(
                condition=Q(is_published=False) | Q(published_at__isnull=False),
                name="winner_published_has_timestamp",
            ),
        ]
        indexes = [
            models.Index(fields=["is_published", "-published_at"], name="winner_champions_idx")
        ]

    def __str__(self):
        return f"{self.display_name} won {self.prize.title}"

    @property
    def is_instant(self) -> bool:
        return self.instant_win_id is not None
