from django.db import migrations
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce


def void_wins_of_rejected_instant_winners(apps, schema_editor):
    """An instant winner staff rejected before a rejection voided the win: the win is void as
    of the rejection (winners.services.winner_reject now does this), so the public list shows it
    as void instead of "winner being verified". Wins voided by a refund already say so."""
    InstantWin = apps.get_model("competitions", "InstantWin")
    Winner = apps.get_model("winners", "Winner")
    rejected = Winner.objects.filter(
        instant_win=OuterRef("pk"), verification_status="rejected"
    ).values("verified_at")
    InstantWin.objects.filter(
        voided_at__isnull=True,
        won_at__isnull=False,
        winner__verification_status="rejected",
    ).update(
        # A rejection records its time; should one not, the win is void from when it was won.
        voided_at=Coalesce(Subquery(rejected[:1]), F("won_at")),
        void_reason="ineligible",
    )


class Migration(migrations.Migration):
    dependencies = [
        ("competitions", "0010_instant_win_void_reason"),
        ("winners", "0003_winner_for_instant_wins"),
    ]

    operations = [
        migrations.RunPython(
            void_wins_of_rejected_instant_winners, migrations.RunPython.noop, elidable=True
        ),
    ]
