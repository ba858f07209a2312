from django.apps import AppConfig


class WinnersConfig(AppConfig):
    name = "winners"

    def ready(self):
        # Draws tells us who won through this hook: draws is below winners (see draws.signals
        # for why it is a hook and not a call).
        from draws.signals import prizes_won
        from tickets.signals import (
            instant_win_prizes_delivered,
            instant_win_tickets_refunded,
            instant_wins_won,
        )

        from .receivers import (
            delivered_instant_prizes,
            record_instant_winners,
            record_winners,
            void_instant_winners,
        )

        prizes_won.connect(record_winners, dispatch_uid="winners.record_winners")
        # And tickets tells us of a sale that held an instant-win number (tickets.signals).
        instant_wins_won.connect(
            record_instant_winners, dispatch_uid="winners.record_instant_winners"
        )
        # And of a refund of tickets that may hold one: their win is void.
        instant_win_tickets_refunded.connect(
            void_instant_winners, dispatch_uid="winners.void_instant_winners"
        )
        # And, before and during such a refund, which of those prizes already went out.
        instant_win_prizes_delivered.connect(
            delivered_instant_prizes, dispatch_uid="winners.delivered_instant_prizes"
        )
