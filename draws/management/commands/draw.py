from django.core.management.base import BaseCommand, CommandError

from draws.beacon import beacon_label
from draws.exceptions import BeaconPending, DrawError
from draws.models import Draw
from draws.services import draw_perform, draw_perform_manual, draw_refreeze_ledger

from ._competition import competition_arg


class Command(BaseCommand):
    help = (
        "Draw a closed competition now (random, per docs/architecture.md §4), or record a manual "
        "winner with --manual-ticket N --reason '...'. Staff draws may run before the advertised "
        "draw time, never before the beacon round announced at activation is out."
    )

    def add_arguments(self, parser):
        parser.add_argument("competition", help="id or slug")
        parser.add_argument("--manual-ticket", type=int, help="record this ticket as the winner")
        parser.add_argument("--reason", default="", help="why (required with --manual-ticket)")
        parser.add_argument(
            "--refreeze",
            action="store_true",
            help="freeze the entry ledger again first (after a ledger-changed refusal); "
            "needs --reason",
        )

    def handle(self, *args, competition, manual_ticket, reason, refreeze, **options):
        competition = competition_arg(competition)
        try:
            if refreeze:
                draw_refreeze_ledger(competition=competition, reason=reason)
                self.stdout.write("Entry ledger frozen again.")
            if manual_ticket is not None:
                draw = draw_perform_manual(
                    competition=competition,
                    ticket_number=manual_ticket,
                    reason=reason,
                    by=None,
                )
            else:
                draw = draw_perform(competition=competition, mode=Draw.Mode.ADMIN)
        except BeaconPending as waiting:
            # Not an error: the draw happens once the announced round is out (beat retries).
            self.stdout.write(f"{competition.title}: not drawn yet. {waiting}")
            return
        except DrawError as refusal:
            raise CommandError(str(refusal)) from refusal
        self.stdout.write(
            f"{competition.title}: {draw.get_status_display()} ({draw.get_mode_display()})"
        )
        self.stdout.write(f"  entries      {draw.entry_count}")
        self.stdout.write(f"  ledger hash  {draw.ledger_hash}")
        self.stdout.write(f"  seed         {draw.seed}")
        if draw.beacon_round is not None:
            self.stdout.write(
                f"  beacon round {draw.beacon_round} ({beacon_label(draw.beacon_chain)})"
            )
            self.stdout.write(f"  randomness   {draw.entropy}")
        for winner in draw.winners.select_related("prize", "ticket").order_by("prize__position"):
            self.stdout.write(
                f"  prize {winner.prize.position}: ticket #{winner.ticket.number} "
                f"(ledger index {winner.ledger_index}) – {winner.display_name}"
            )
