from django.core.management.base import BaseCommand, CommandError

from draws.instant_wins import verify_instant_wins
from draws.selectors import draw_for
from draws.verification import verify_draw

from ._competition import competition_arg


class Command(BaseCommand):
    help = "Recompute every step of a competition's draw; exits non-zero on any mismatch."

    def add_arguments(self, parser):
        parser.add_argument("competition", help="id or slug")

    def handle(self, *args, competition, **options):
        competition = competition_arg(competition)
        draw = draw_for(competition.pk)
        if draw is None:
            raise CommandError(f"“{competition.title}” has no draw yet (its ledger is not frozen).")
        self.stdout.write(f"{competition.title}: {draw.get_status_display()}")
        if draw.is_done:
            self.stdout.write(f"  mode: {draw.get_mode_display()}")
        checks = verify_draw(draw) + verify_instant_wins(draw)
        for check in checks:
            mark = "✓" if check.ok else "✗"
            self.stdout.write(f"{mark} {check.name}")
            if not check.ok:
                self.stdout.write(f"    expected {check.expected}\n    actual   {check.actual}")
        failed = [check for check in checks if not check.ok]
        if failed:
            raise CommandError(f"{len(failed)} of {len(checks)} checks failed.")
        self.stdout.write(self.style.SUCCESS(f"All {len(checks)} checks passed."))
