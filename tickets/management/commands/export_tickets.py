"""`manage.py export_tickets <competition>`: a competition's tickets as CSV on stdout."""

from django.core.management.base import BaseCommand, CommandError

from competitions.models import Competition
from tickets.export import tickets_csv
from tickets.models import Ticket


class Command(BaseCommand):
    help = "Write a competition's tickets as CSV to stdout (same columns as the admin export)."

    def add_arguments(self, parser):
        parser.add_argument("competition", help="competition id or slug")

    def handle(self, *args, competition, **options):
        lookup = {"pk": int(competition)} if competition.isdigit() else {"slug": competition}
        try:
            found = Competition.objects.get(**lookup)
        except Competition.DoesNotExist:
            raise CommandError(f"No competition with id or slug {competition!r}.") from None
        queryset = Ticket.objects.filter(competition=found).order_by("number", "id")
        for text in tickets_csv(queryset):
            self.stdout.write(text, ending="")
