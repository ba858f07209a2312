"""The provably fair selection, checked against its published description."""

import hashlib
import hmac

import pytest

from draws import fairness
from draws.fairness import LedgerHasher, commitment_for, new_seed, winning_indexes

SEED = "5e" * 32
LEDGER_HASH = hashlib.sha256(b"1\n2\n5\n").hexdigest()


def pick(**kw):
    args = {"seed": SEED, "ledger_hash": LEDGER_HASH, "entropy": "", "count": 10, "prizes": 1}
    args.update(kw)
    return winning_indexes(**args)


def test_new_seed_is_32_random_bytes_in_hex():
    seeds = {new_seed() for _ in range(20)}
    assert len(seeds) == 20
    for seed in seeds:
        assert len(bytes.fromhex(seed)) == 32


def test_commitment_is_sha256_of_the_seed_bytes():
    seed = "00" * 31 + "01"
    assert commitment_for(seed) == hashlib.sha256(bytes(31) + b"\x01").hexdigest()
    # Not the hash of the hex text: anyone checking uses the bytes.
    assert commitment_for(seed) != hashlib.sha256(seed.encode()).hexdigest()


def test_ledger_hash_is_sha256_of_one_number_per_line():
    hasher = LedgerHasher().add_all([1, 2, 5])
    assert hasher.hexdigest() == hashlib.sha256(b"1\n2\n5\n").hexdigest()
    assert hasher.count == 3


def test_empty_ledger_hash_is_sha256_of_nothing():
    hasher = LedgerHasher()
    assert hasher.hexdigest() == hashlib.sha256(b"").hexdigest()
    assert hasher.count == 0


@pytest.mark.parametrize("numbers", [[2, 1], [1, 1], [3, 5, 4], [0]])
def test_ledger_rejects_numbers_out_of_order(numbers):
    with pytest.raises(ValueError):
        LedgerHasher().add_all(numbers)


def test_winning_index_matches_the_published_recipe():
    """An independent reading of the docstring: HMAC-SHA256(seed, "hash|entropy|k|a")."""
    message = f"{LEDGER_HASH}|beacon-42|1|0".encode()
    value = int.from_bytes(hmac.new(bytes.fromhex(SEED), message, hashlib.sha256).digest(), "big")
    assert value < (1 << 256) - (1 << 256) % 7  # not in the rejected tail
    assert pick(entropy="beacon-42", count=7) == [value % 7]


def test_same_inputs_same_winner():
    assert pick(count=1000, prizes=3) == pick(count=1000, prizes=3)


@pytest.mark.parametrize(
    "change",
    [
        {"entropy": "drand round 123"},
        {"seed": "5f" + "5e" * 31},
        {"ledger_hash": hashlib.sha256(b"1\n2\n6\n").hexdigest()},
    ],
)
def test_each_input_changes_the_outcome(change):
    # A single index could coincide by chance (1 in count); five prizes of 10**6 cannot.
    assert pick(count=10**6, prizes=5, **change) != pick(count=10**6, prizes=5)


def test_first_prize_does_not_depend_on_number_of_prizes():
    assert pick(count=500, prizes=3)[0] == pick(count=500, prizes=1)[0]


def test_several_prizes_get_distinct_indexes():
    for i in range(50):
        indexes = pick(seed=f"{i:064x}", count=5, prizes=4)
        assert len(indexes) == 4
        assert len(set(indexes)) == 4


def test_every_entry_wins_when_prizes_equal_entries():
    for i in range(20):
        assert sorted(pick(seed=f"{i:064x}", count=3, prizes=3)) == [0, 1, 2]


def test_more_prizes_than_entries_gives_each_entry_once():
    indexes = pick(count=3, prizes=10)
    assert sorted(indexes) == [0, 1, 2]


def test_indexes_stay_in_range():
    for count in (1, 2, 3, 7, 10, 1000):
        for i in range(100):
            for index in pick(seed=f"{i:064x}", count=count, prizes=min(count, 3)):
                assert 0 <= index < count


def test_single_entry_always_wins():
    assert pick(count=1, prizes=1) == [0]


def test_no_entries_no_winners():
    assert pick(count=0, prizes=1) == []
    assert pick(count=0, prizes=0) == []


def test_value_in_the_incomplete_last_block_is_redrawn(monkeypatch):
    """No modulo bias: the top 2**256 % count values are skipped, not folded onto low indexes."""
    space = 1 << 256
    count = 3  # 2**256 % 3 == 1: only the very top value is rejected
    values = iter([space - 1, 3 * 5 + 2])
    monkeypatch.setattr(fairness, "_value", lambda *args: next(values))
    assert winning_indexes(
        seed=SEED, ledger_hash=LEDGER_HASH, entropy="", count=count, prizes=1
    ) == [2]


def test_winner_is_uniform_over_entries():
    """Deterministic: 2000 fixed seeds over 10 entries. Chi-squared must stay below 27.88,
    the 99.9% critical value for 9 degrees of freedom."""
    count, runs = 10, 2000
    tally = [0] * count
    for i in range(runs):
        (index,) = pick(seed=f"{i:064x}", count=count)
        tally[index] += 1
    expected = runs / count
    chi_squared = sum((seen - expected) ** 2 / expected for seen in tally)
    assert chi_squared < 27.88, tally


def test_second_prize_is_uniform_too():
    count, runs = 10, 2000
    tally = [0] * count
    for i in range(runs):
        _, second = pick(seed=f"{i:064x}", count=count, prizes=2)
        tally[second] += 1
    expected = runs / count
    chi_squared = sum((seen - expected) ** 2 / expected for seen in tally)
    assert chi_squared < 27.88, tally


def test_fixed_first_prize_keeps_later_prizes_reproducible():
    """A manual 1st prize: prizes 2.. follow the usual recipe (prize numbers 2, 3, ...),
    never landing on the fixed index."""
    for i in range(50):
        seed = f"{i:064x}"
        fixed = pick(seed=seed, count=6, prizes=3, fixed=(4,))
        assert fixed[0] == 4 and len(set(fixed)) == 3
        assert fixed == pick(seed=seed, count=6, prizes=3, fixed=(4,))
    # Without a collision, prize 2 is what the random draw would have given it.
    random = pick(count=10**6, prizes=2)
    assert pick(count=10**6, prizes=2, fixed=(7,)) == [7, random[1]]


@pytest.mark.parametrize("fixed", [(10,), (-1,), (1, 1)])
def test_fixed_indexes_must_be_distinct_and_in_range(fixed):
    with pytest.raises(ValueError):
        pick(count=10, prizes=2, fixed=fixed)


def test_winner_is_uniform_over_an_awkward_count():
    """Deterministic: 3000 fixed seeds over 7 entries (2**256 % 7 != 0, so rejection sampling
    matters). Chi-squared below 22.46, the 99.9% critical value for 6 degrees of freedom."""
    count, runs = 7, 3000
    tally = [0] * count
    for i in range(runs):
        (index,) = pick(seed=hashlib.sha256(b"%d" % i).hexdigest(), count=count)
        tally[index] += 1
    expected = runs / count
    chi_squared = sum((seen - expected) ** 2 / expected for seen in tally)
    assert chi_squared < 22.46, tally
