from django.apps import AppConfig


class DrawsConfig(AppConfig):
    name = "draws"

    def ready(self):
        # Activation commits to the draw seed through this hook: competitions is below draws
        # (see competitions.signals for why it is a hook and not a call).
        from competitions.signals import competition_activating, competition_close_moved

        from .receivers import commit_to_seed, move_beacon_round

        competition_activating.connect(commit_to_seed, dispatch_uid="draws.commit_to_seed")
        # The beacon round is fixed by rule from the close: an extension below the minimum or
        # staff moving the dates works it out again (competitions.signals).
        competition_close_moved.connect(move_beacon_round, dispatch_uid="draws.move_beacon_round")

        # What every entrant is told (tickets.entrants): an extension below the minimum
        # (draws.minimum) and the result of the draw.
        from tickets.entrants import entrant_broadcast_register

        from .events import competition_drawn_notices, competition_extended_notices

        entrant_broadcast_register("extended", competition_extended_notices)
        entrant_broadcast_register("drawn", competition_drawn_notices)
