"""Hooks through which apps above competitions take part in its state changes.

Competitions sits below draws in the layers (config/layers.py), so it may not call draws. Yet
activation must commit to the secret draw seed (docs/architecture.md §4), and the seed is the draws app's
business: how it is made and committed to is `draws.fairness`, which the public verifier
shares. So activation sends `competition_activating` and draws answers it.

Sent inside the activation transaction, with the locked competition, before the new status is
saved. Receivers (connected in their app's `ready()`) may set fields on `competition`
(draws sets `draw_seed` and `seed_commitment`) and write rows of their own; an exception rolls
the activation back. Nobody answering means no commitment, which activation refuses
(and the `competition_activated_has_commitment` constraint would too).
"""

from django.dispatch import Signal

# Arguments: competition (locked, not yet saved as activated), by (user or None), now.
competition_activating = Signal()

# Sent inside `competition_change_dates` after the new dates are saved. Arguments: competition
# (locked, saved), previous_ends_at, by, now. Draws answers by moving the announced beacon
# round when the close moved (the round is fixed by rule from the close), publicly logged.
competition_dates_changed = Signal()
