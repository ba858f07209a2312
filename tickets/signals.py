"""The hooks through which the winners app records, and voids, an instant win.

Winners is above tickets in the layers (config/layers.py), so a sale that turns out to hold an
instant-win number may not create the `Winner` itself. `tickets.instant_wins.instant_wins_award`
sends `instant_wins_won` inside the sale's transaction, once per sale that won anything; the
receiver (`winners.receivers.record_instant_winners`, connected in `WinnersConfig.ready()`)
creates one winner per win and tells the customer through the outbox. An exception rolls the
sale back.

A refund takes the win back the same way: `tickets.instant_wins.instant_wins_refunded` sends
`instant_win_tickets_refunded` inside the refund's transaction (only for competitions with
instant wins), and `winners.receivers.void_instant_winners` voids the win of any of those
tickets (docs/architecture.md §4, item 6).

Before and during a refund, tickets asks winners which of the instant prizes it would void
already went out to their winners (`instant_win_prizes_delivered`, answered by
`winners.receivers.delivered_instant_prizes`): staff are warned per number on the confirmation
page and the refund's audit entry records it, since someone has to recover the prize.
"""

from django.dispatch import Signal

# Arguments: wins: [(instant_win, ticket)], instant_win with its prize and competition,
# ticket with its user; now.
instant_wins_won = Signal()

# Arguments: ticket_ids: [int] (just refunded, in competitions with instant wins); reason: str
# (why, for the customer and the audit log); by: the user refunding, or None; now. Receivers
# return the instant wins they voided.
instant_win_tickets_refunded = Signal()

# Arguments: instant_win_ids: [int]. Receivers return {instant_win_id: PrizeDelivered}
# (tickets.instant_wins) for those whose prize was delivered to its winner.
instant_win_prizes_delivered = Signal()
