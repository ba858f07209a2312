"""References customers quote (orders, complaints): short, random, unambiguous."""

import secrets

# No 0/O, 1/I: references are read out over the phone.
REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_reference(prefix: str, length: int = 8) -> str:
    """A random reference a customer can quote: `prefix` and `length` unambiguous characters."""
    return prefix + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(length))
