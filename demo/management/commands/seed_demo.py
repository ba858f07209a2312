from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo import seed as demo


class Command(BaseCommand):
    help = "Load demo competitions, customers, tickets and winners (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset", action="store_true", help="Delete the demo data first, to refresh its dates."
        )

    def handle(self, *args, reset=False, **options):
        if not settings.FAIRDRAW_DEV_TOOLS:
            raise CommandError("Demo data (with a published password) is for development only.")
        if reset:
            demo.reset()
            self.stdout.write("Removed the previous demo data.")
        created = demo.seed(stdout=self.stdout)
        if created:
            self.stdout.write(self.style.SUCCESS(f"Created {len(created)} demo competitions."))
        else:
            self.stdout.write("Demo data already present (use --reset to refresh its dates).")
        self.stdout.write(f"Demo customers log in with password {demo.CUSTOMER_PASSWORD!r}.")
