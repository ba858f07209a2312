"""`manage.py issue_receipts`: sign the receipts that paid orders are missing (a backfill)."""

from django.core.management.base import BaseCommand

from tickets.services import receipts_issue_missing
from tickets.services.receipts import orders_missing_receipts


class Command(BaseCommand):
    help = "Issue the signed entry receipt of every paid order that has none yet (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count the orders without a receipt."
        )

    def handle(self, *args, dry_run=False, **options):
        if dry_run:
            count = orders_missing_receipts().count()
            self.stdout.write(f"{count} paid order(s) have no receipt.")
            return
        issued = receipts_issue_missing()
        self.stdout.write(self.style.SUCCESS(f"Issued {issued} receipt(s)."))
