class DrawError(Exception):
    """A draw the rules refuse. The message says why."""


class DrawNotDue(DrawError):
    """Not drawable (yet): not ended, not at the advertised draw time, automatic draw off."""


class AlreadyDrawn(DrawError):
    pass


class DrawBusy(DrawError):
    """Another draw holds the competition's lock; retrying shortly will succeed or find it
    drawn. Celery tasks retry on it."""


class LedgerChanged(DrawError):
    """The valid tickets differ from the entry ledger frozen at close. The draw is refused
    (never silently made against other entries) and the operators are alerted."""


class ManualEntryInvalid(DrawError):
    """A manual winner entry without a reason, or naming a ticket that cannot win."""


class OutcomeRefused(DrawError):
    """A minimum-tickets outcome cannot be applied (not below the minimum, already decided
    at this close, or the competition is final): draws.minimum."""


class BeaconPending(DrawNotDue):
    """The announced beacon round is not out yet, or no relay has answered with it yet: the
    draw waits (it stays pending and the periodic job tries again)."""


class BeaconRefused(DrawError):
    """What the relays answered is not the announced round (a signature that does not verify,
    another round, a randomness that is not SHA-256(signature)). Nothing is drawn and the
    operators are alerted."""
