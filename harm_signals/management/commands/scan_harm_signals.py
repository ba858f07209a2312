from django.core.management.base import BaseCommand

from ...services import harm_signals_scan


class Command(BaseCommand):
    help = (
        "What the hourly beat job does, once: run the harm-signal rules over every customer "
        "and open or refresh flags for staff (Customers and staff › Harm flags in admin)."
    )

    def handle(self, *args, **options):
        self.stdout.write(str(harm_signals_scan()))
