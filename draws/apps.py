from django.apps import AppConfig


class DrawsConfig(AppConfig):
    name = "draws"

    def ready(self):
        # Activation commits to the draw seed through this hook: competitions is below draws
        # (see competitions.signals for why it is a hook and not a call).
        from competitions.signals import competition_activating, competition_dates_changed

        from .receivers import commit_to_seed, move_beacon_round

        competition_activating.connect(commit_to_seed, dispatch_uid="draws.commit_to_seed")
        competition_dates_changed.connect(move_beacon_round, dispatch_uid="draws.move_beacon_round")
