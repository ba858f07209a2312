"""The hook through which the winners app records who won a draw.

Winners is above draws in the layers (config/layers.py): a winner refers to its draw, and its
verification, publication and delivery are the winners app's business, so draws may not
create `Winner` rows itself. It sends `prizes_won` instead, inside the draw's transaction
once the draw row is saved; the receiver (`winners.receivers.record_winners`, connected in
`WinnersConfig.ready()`) creates one winner per pick, tells each winner, and returns the rows. An exception rolls the whole draw back, and a draw that picked winners nobody
recorded is refused (`draws.services._record_winners`) rather than committed without them.
"""

from django.dispatch import Signal

# Arguments: competition, draw (saved), picks: [(prize, ledger_index, ticket)] in prize order.
# Receivers return the list of winners they created.
prizes_won = Signal()
