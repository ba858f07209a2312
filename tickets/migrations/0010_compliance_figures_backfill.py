"""Start the compliance figures from what is already recorded: the skill-question counters
(competitions.SkillAnswerStats) from the answers on paid orders, and one PostalEntry per batch
of postal tickets (same customer, competition and time), without an arrival date (not kept
before)."""

from django.db import migrations
from django.db.models import Count, Q

PAID_STATES = ("paid", "partially_refunded", "refunded")


def backfill(apps, schema_editor):
    OrderLine = apps.get_model("tickets", "OrderLine")
    Ticket = apps.get_model("tickets", "Ticket")
    PostalEntry = apps.get_model("tickets", "PostalEntry")
    SkillAnswerStats = apps.get_model("competitions", "SkillAnswerStats")

    answers = (
        OrderLine.objects.filter(order__status__in=PAID_STATES)
        .values("competition_id")
        .annotate(answered=Count("id"), wrong=Count("id", filter=Q(answer__is_correct=False)))
        .order_by("competition_id")
    )
    SkillAnswerStats.objects.bulk_create(
        [
            SkillAnswerStats(
                competition_id=row["competition_id"],
                answered=row["answered"],
                wrong=row["wrong"],
            )
            for row in answers
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
    batches = (
        Ticket.objects.filter(source="postal")
        .values("competition_id", "user_id", "purchased_at")
        .annotate(quantity=Count("id"))
        .order_by("purchased_at")
    )
    PostalEntry.objects.bulk_create(
        [
            PostalEntry(
                competition_id=row["competition_id"],
                user_id=row["user_id"],
                quantity=row["quantity"],
                recorded_at=row["purchased_at"],
                note="Recorded before arrival dates were kept.",
            )
            for row in batches
        ],
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("competitions", "0007_skill_answer_stats"),
        ("tickets", "0009_postal_entry_record"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
