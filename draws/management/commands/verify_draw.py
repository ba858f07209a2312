import json

from django.core.management.base import BaseCommand, CommandError

from draws.receipt_check import verify_receipt
from draws.selectors import draw_for
from draws.verification import verify_and_record

from ._competition import competition_arg


class Command(BaseCommand):
    help = "Recompute every step of a competition's draw; exits non-zero on any mismatch."

    def add_arguments(self, parser):
        parser.add_argument("competition", help="id or slug")
        parser.add_argument(
            "--receipt",
            metavar="FILE",
            help="check a signed entry receipt against the frozen ledger instead (draws.receipt_check)",
        )

    def handle(self, *args, competition, receipt=None, **options):
        competition = competition_arg(competition)
        draw = draw_for(competition.pk)
        if draw is None:
            raise CommandError(f"“{competition.title}” has no draw yet (its ledger is not frozen).")
        if receipt:
            return self.check_receipt(draw, receipt)
        self.stdout.write(f"{competition.title}: {draw.get_status_display()}")
        if draw.is_done:
            self.stdout.write(f"  mode: {draw.get_mode_display()}")
        self.report(verify_and_record(draw))

    def check_receipt(self, draw, path):
        try:
            with open(path, encoding="utf-8") as file:
                document = json.load(file)
        except (OSError, ValueError) as error:
            raise CommandError(f"Cannot read the receipt {path}: {error}") from None
        self.stdout.write(f"{draw.competition.title}: receipt {path}")
        self.report(verify_receipt(draw, document))

    def report(self, checks):
        for check in checks:
            mark = "✓" if check.ok else "✗"
            self.stdout.write(f"{mark} {check.name}")
            if not check.ok:
                self.stdout.write(f"    expected {check.expected}\n    actual   {check.actual}")
        failed = [check for check in checks if not check.ok]
        if failed:
            raise CommandError(f"{len(failed)} of {len(checks)} checks failed.")
        self.stdout.write(self.style.SUCCESS(f"All {len(checks)} checks passed."))
