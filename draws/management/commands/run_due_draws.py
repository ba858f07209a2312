from django.core.management.base import BaseCommand

from competitions.models import Competition
from draws.exceptions import DrawError
from draws.models import Redraw
from draws.services import (
    draw_due_competition,
    draws_close_and_find_due,
    redraw_perform,
    redraws_due,
)


class Command(BaseCommand):
    help = (
        "What the beat job does, synchronously: close ended competitions, draw the due ones and "
        "perform the redraws whose beacon round is out."
    )

    def handle(self, *args, **options):
        due = draws_close_and_find_due()
        if not due:
            self.stdout.write("No competition is due to be drawn.")
        for competition_id in due:
            title = Competition.objects.get(pk=competition_id).title
            try:
                draw = draw_due_competition(competition_id=competition_id)
            except DrawError as refusal:
                self.stderr.write(f"{title}: not drawn – {refusal}")
            else:
                self.stdout.write(f"{title}: {draw.get_status_display()}")
        for redraw_id in redraws_due():
            redraw = Redraw.objects.select_related("competition").get(pk=redraw_id)
            try:
                redraw = redraw_perform(redraw=redraw)
            except DrawError as refusal:
                self.stderr.write(f"{redraw.competition.title}: not redrawn – {refusal}")
            else:
                self.stdout.write(
                    f"{redraw.competition.title}: redraw {redraw.sequence} "
                    f"{redraw.get_status_display().lower()}"
                )
