"""Provably fair selection (docs/architecture.md §4): pure functions, no Django, so the published
verification script and the server compute exactly the same thing.

- seed: 32 random bytes, kept as 64 hex characters.
- commitment: sha256(seed bytes), hex.
- ledger: the valid ticket numbers in ascending order, each as decimal digits followed by
  "\\n"; its SHA-256 (hex) is the ledger hash.
- prize k (1, 2, ...), attempt a (0, 1, ...):
  value = int(HMAC-SHA256(key=seed bytes, msg=f"{ledger_hash}|{entropy}|{k}|{a}"), big-endian)
  The attempt is rejected, and the next one tried, when value falls in the incomplete last
  block (value >= 2**256 - 2**256 % count: no modulo bias) or when its index was already
  chosen for an earlier prize; otherwise index = value % count.
- a manual winner entry fixes the 1st prize's index; later prizes follow the same recipe
  (prize 2, 3, ...), skipping the fixed index, so they stay reproducible.
- one prize per customer (an option of the competition): the owners list gives each ledger
  entry, in ledger order, a pseudonymous owner label (customers numbered 1, 2, ... in the
  order their first entry appears in the ledger; a postal entry is its customer's), one
  decimal label per line; its SHA-256 is the owners hash, published with the ledger hash at
  the freeze. An attempt whose index belongs to an owner who already won a prize is rejected
  like an index already chosen (`owner_of`), and there are at most as many prizes as owners.
  A redraw with this option skips every entry whose owner is the owner of an excluded index
  (every earlier winner of the draw, standing or disqualified), not only those indexes.
- instant-win number i (0, 1, ...), attempt a (0, 1, ...), on a competition of N tickets:
  value = int(HMAC-SHA256(key=seed bytes, msg=f"instant|{i}|{a}"), big-endian), rejected
  when value >= 2**256 - 2**256 % N or when 1 + value % N was already chosen; otherwise the
  number is 1 + value % N. Numbers go to the instant prizes' units in the published prize
  order, by id (the first prize's count of numbers, then the next prize's, ...).
- instant-win commitment: sha256(salt + "\n" + the numbers ascending, each as decimal
  digits followed by "\n"), hex; the salt is 32 random bytes as 64 hex characters, revealed
  with the list after close.
"""

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable, Sequence

SPACE = 1 << 256


def new_seed() -> str:
    return secrets.token_hex(32)


def commitment_for(seed_hex: str) -> str:
    return hashlib.sha256(bytes.fromhex(seed_hex)).hexdigest()


def ledger_line(number: int) -> bytes:
    return b"%d\n" % number


def owner_line(label: int) -> bytes:
    """One line of the owners list (see the module docstring)."""
    return b"%d\n" % label


class LedgerHasher:
    """Hashes ledger numbers as they stream past, checking they arrive strictly ascending."""

    def __init__(self):
        self._sha = hashlib.sha256()
        self.count = 0
        self._last = 0

    def add(self, number: int) -> None:
        if number <= self._last:
            raise ValueError(
                f"Ledger numbers must be strictly ascending ({number} after {self._last})."
            )
        self._sha.update(ledger_line(number))
        self._last = number
        self.count += 1

    def add_all(self, numbers: Iterable[int]) -> "LedgerHasher":
        for number in numbers:
            self.add(number)
        return self

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def _hmac_int(seed_hex: str, message: str) -> int:
    """HMAC-SHA256(key=seed bytes, message) read as a big-endian integer: every draw value."""
    digest = hmac.new(bytes.fromhex(seed_hex), message.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest, "big")


def _value(seed_hex: str, ledger_hash: str, entropy: str, prize: int, attempt: int) -> int:
    return _hmac_int(seed_hex, f"{ledger_hash}|{entropy}|{prize}|{attempt}")


def winning_indexes(
    *,
    seed: str,
    ledger_hash: str,
    entropy: str,
    count: int,
    prizes: int,
    fixed: Sequence[int] = (),
    owner_of: Callable[[int], object] | None = None,
) -> list[int]:
    """Distinct ledger indexes for prizes 1..prizes, in prize order.

    `fixed` holds indexes already decided for the first prizes (a manual winner entry);
    the remaining prizes are drawn as usual, never landing on a fixed index.
    `owner_of(index)` (one prize per customer): an index whose owner already won is rejected
    too. The caller caps `prizes` at the number of owners, or no index could be found."""
    if count <= 0:
        return []
    if any(not 0 <= i < count for i in fixed) or len(set(fixed)) != len(fixed):
        raise ValueError("Fixed indexes must be distinct and within the ledger.")
    limit = SPACE - SPACE % count
    chosen: list[int] = list(fixed)[:prizes]
    for prize in range(len(chosen) + 1, min(prizes, count) + 1):
        attempt = 0
        while True:
            value = _value(seed, ledger_hash, entropy, prize, attempt)
            attempt += 1
            if value >= limit:
                continue
            index = value % count
            if index in chosen:
                continue
            if owner_of is not None and owner_of(index) in {owner_of(i) for i in chosen}:
                continue
            chosen.append(index)
            break
    return chosen


def redraw_index(
    *,
    seed: str,
    ledger_hash: str,
    entropy: str,
    count: int,
    prize: int,
    excluded: Iterable[int],
    owner_of: Callable[[int], object] | None = None,
) -> int | None:
    """The ledger index a redraw of prize `prize` lands on: the same recipe as the draw
    (HMAC-SHA256(seed, "ledger_hash|entropy|prize|attempt"), rejection sampling) with the
    redraw's own beacon randomness as `entropy`, skipping every index in `excluded` (all
    earlier winners, the disqualified one included).
    `owner_of(index)` (one prize per customer): every entry of an excluded entry's owner is
    skipped too, so no customer who won (or was disqualified from) a prize of this draw wins
    the redraw. None when no entry is left to win."""
    excluded = set(excluded)
    if count <= 0:
        return None
    if owner_of is None:
        if len({i for i in excluded if 0 <= i < count}) >= count:
            return None
        barred: set = set()
    else:
        barred = {owner_of(i) for i in excluded if 0 <= i < count}
        if all(i in excluded or owner_of(i) in barred for i in range(count)):
            return None
    limit = SPACE - SPACE % count
    attempt = 0
    while True:
        value = _value(seed, ledger_hash, entropy, prize, attempt)
        attempt += 1
        if value >= limit or value % count in excluded:
            continue
        if owner_of is not None and owner_of(value % count) in barred:
            continue
        return value % count


def instant_win_numbers(*, seed: str, max_tickets: int, count: int) -> list[int]:
    """`count` distinct ticket numbers in 1..max_tickets, in derivation order, fixed by the
    seed alone (docs/architecture.md §4, item 6)."""
    if count > max_tickets:
        raise ValueError("More instant wins than tickets.")
    limit = SPACE - SPACE % max_tickets
    chosen: list[int] = []
    taken: set[int] = set()
    for i in range(count):
        attempt = 0
        while True:
            value = _hmac_int(seed, f"instant|{i}|{attempt}")
            attempt += 1
            if value >= limit:
                continue
            number = 1 + value % max_tickets
            if number not in taken:
                taken.add(number)
                chosen.append(number)
                break
    return chosen


def new_instant_wins_salt() -> str:
    return secrets.token_hex(32)


def instant_wins_serialised(numbers: Iterable[int], salt: str) -> bytes:
    """The canonical bytes the instant-win commitment hashes: salt line, then the numbers
    ascending, one per line."""
    return salt.encode() + b"\n" + b"".join(ledger_line(n) for n in sorted(numbers))


def instant_wins_commitment(numbers: Iterable[int], salt: str) -> str:
    return hashlib.sha256(instant_wins_serialised(numbers, salt)).hexdigest()
