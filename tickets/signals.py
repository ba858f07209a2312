"""The hook through which the winners app records an instant win.

Winners is above tickets in the layers (config/layers.py), so a sale that turns out to hold an
instant-win number may not create the `Winner` itself. `tickets.instant_wins.instant_wins_award`
sends `instant_wins_won` inside the sale's transaction, once per sale that won anything; the
receiver (`winners.receivers.record_instant_winners`, connected in `WinnersConfig.ready()`)
creates one winner per win and tells the customer through the outbox. An exception rolls the
sale back.
"""

from django.dispatch import Signal

# Arguments: wins: [(instant_win, ticket)], instant_win with its prize and competition,
# ticket with its user; now.
instant_wins_won = Signal()
