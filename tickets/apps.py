from django.apps import AppConfig


class TicketsConfig(AppConfig):
    name = "tickets"

    def ready(self):
        from .entrants import entrant_broadcast_register
        from .events import competition_cancelled_notices

        entrant_broadcast_register("cancelled", competition_cancelled_notices)
