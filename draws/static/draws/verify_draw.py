#!/usr/bin/env python3
"""Check a Fairdraw draw yourself. Python 3.8+, standard library only, no network access.

Download the draw data and the entry ledger from the competition's draw page, then run:

    python3 verify_draw.py draw.json ledger.txt

draw.json is the answer of GET /api/draws/<competitionId>; ledger.txt is the ledger download
(one valid ticket number per line, ascending). Or give the published values by hand:

    python3 verify_draw.py ledger.txt --seed SEED --commitment HASH --ledger-hash HASH \\
        --entropy "" --prizes 1 [--winners 1234,567] [--manual-index 41]

The rules it applies (the same as the site's draws/fairness.py):
- commitment = SHA-256 of the 32 seed bytes, published when the competition opened;
- ledger hash = SHA-256 of the ledger file, entry count = its number of lines;
- prize k, attempt a: v = HMAC-SHA256(key=seed bytes, msg="ledger_hash|entropy|k|a") read as a
  big-endian integer; rejected when v >= 2**256 - 2**256 % count (no modulo bias) or when
  v % count was already chosen for an earlier prize; otherwise the index is v % count;
- the winner of prize k is the ticket at that index (0-based) in the ledger.
A manual winner entry fixes the 1st prize's index; later prizes follow the same rule.
Instant wins (when draw.json has a revealed "instantWins" list):
- commitment = SHA-256 of salt + "\n" + the numbers ascending, one per line;
- number i, attempt a: v = HMAC-SHA256(key=seed bytes, msg="instant|i|a"), rejected when
  v >= 2**256 - 2**256 % max_tickets or when 1 + v % max_tickets was already chosen;
  otherwise the number is 1 + v % max_tickets; the numbers go to the instant prizes in the
  published order, each taking its count of them.
Each check prints ✓ or ✗; the exit status is 1 if any check fails.
"""

import argparse
import hashlib
import hmac
import json
import sys

SPACE = 1 << 256


def winning_indexes(seed, ledger_hash, entropy, count, prizes, fixed=()):
    if count <= 0:
        return []
    limit = SPACE - SPACE % count
    chosen = list(fixed)[:prizes]
    for prize in range(len(chosen) + 1, min(prizes, count) + 1):
        attempt = 0
        while True:
            message = f"{ledger_hash}|{entropy}|{prize}|{attempt}".encode()
            digest = hmac.new(bytes.fromhex(seed), message, hashlib.sha256).digest()
            value = int.from_bytes(digest, "big")
            attempt += 1
            if value >= limit:
                continue
            if value % count not in chosen:
                chosen.append(value % count)
                break
    return chosen


def instant_win_numbers(seed, max_tickets, count):
    limit = SPACE - SPACE % max_tickets
    chosen = []
    for i in range(count):
        attempt = 0
        while True:
            message = f"instant|{i}|{attempt}".encode()
            digest = hmac.new(bytes.fromhex(seed), message, hashlib.sha256).digest()
            value = int.from_bytes(digest, "big")
            attempt += 1
            if value >= limit:
                continue
            if 1 + value % max_tickets not in chosen:
                chosen.append(1 + value % max_tickets)
                break
    return chosen


def check_instant_wins(instant, seed, check):
    """The revealed instant-win list against its commitment, and against the seed."""
    if not instant or not instant.get("revealed"):
        return
    numbers = sorted(instant["numbers"])
    body = instant["salt"].encode() + b"\n" + b"".join(b"%d\n" % n for n in numbers)
    actual = hashlib.sha256(body).hexdigest()
    expected = instant["commitment"]
    check("instant-win list matches its commitment", actual == expected, expected, actual)
    if not seed:
        return
    prizes = instant["prizes"]
    derived = instant_win_numbers(seed, instant["maxTickets"], sum(p["count"] for p in prizes))
    check("instant-win numbers recomputed from the seed", sorted(derived) == numbers)
    position = 0
    for prize in prizes:
        mine = sorted(derived[position : position + prize["count"]])
        position += prize["count"]
        check(
            f"instant prize {prize['title']}: its numbers come from the seed",
            mine == sorted(prize["numbers"]),
            mine,
            sorted(prize["numbers"]),
        )


def read_ledger(path, wanted):
    """SHA-256 and line count of the ledger file, the numbers at the wanted indexes, and
    whether the numbers ascend strictly (read line by line: any size of ledger)."""
    sha, count, last, ascending, found = hashlib.sha256(), 0, 0, True, {}
    with open(path, "rb") as ledger:
        for line in ledger:
            sha.update(line)
            number = int(line)
            ascending = ascending and number > last and line == b"%d\n" % number
            if count in wanted:
                found[count] = number
            last = number
            count += 1
    return sha.hexdigest(), count, ascending, found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", help="[draw.json] ledger.txt")
    parser.add_argument("--seed")
    parser.add_argument("--commitment")
    parser.add_argument("--ledger-hash")
    parser.add_argument("--entropy", default="")
    parser.add_argument("--prizes", type=int, default=1)
    parser.add_argument("--winners", default="", help="winning ticket numbers, in prize order")
    parser.add_argument("--manual-index", type=int, help="ledger index of a manual 1st prize")
    args = parser.parse_args(argv)

    data = {}
    if len(args.files) == 2:
        with open(args.files[0], encoding="utf-8") as f:
            data = json.load(f)
    ledger_path = args.files[-1]
    winners = data.get("winners") or []
    seed = args.seed or data.get("seed")
    commitment = args.commitment or data.get("seedCommitment")
    ledger_hash = args.ledger_hash or data.get("ledgerHash")
    entropy = args.entropy or data.get("entropy") or ""
    claimed = [w["ticketNumber"] for w in winners] or [
        int(n) for n in args.winners.split(",") if n.strip()
    ]
    prizes = len(winners) or args.prizes
    fixed = ()
    if data.get("mode") == "manual" and winners:
        fixed = (winners[0]["ledgerIndex"],)
    elif args.manual_index is not None:
        fixed = (args.manual_index,)
    if not (seed and commitment and ledger_hash):
        parser.error("need the seed, the commitment and the ledger hash (or draw.json)")

    results = []

    def check(name, ok, expected="", actual=""):
        results.append(ok)
        print(("✓ " if ok else "✗ ") + name)
        if not ok:
            print(f"    expected {expected}\n    actual   {actual}")

    actual = hashlib.sha256(bytes.fromhex(seed)).hexdigest()
    check("seed matches the commitment: SHA-256(seed)", actual == commitment, commitment, actual)
    published_count = data.get("entryCount")
    if published_count is None:
        published_count = read_ledger(ledger_path, set())[1]
    indexes = winning_indexes(seed, ledger_hash, entropy, published_count, prizes, fixed)
    file_hash, count, ascending, found = read_ledger(ledger_path, set(indexes))
    check(
        "ledger file hashes to the published ledger hash",
        file_hash == ledger_hash,
        ledger_hash,
        file_hash,
    )
    check("entry count", count == published_count, published_count, count)
    check("ledger numbers ascend, one per line", ascending)
    if data.get("mode") == "manual":
        print("  note: the 1st prize was entered manually by staff, not drawn at random:")
        print(f"        {data.get('manualReason') or ''}")
    for k, index in enumerate(indexes, start=1):
        number = found.get(index)
        manual = fixed and k == 1
        label = f"prize {k}: ledger index {index} → ticket #{number}"
        if manual:
            label += " (manual entry)"
        if k <= len(winners) and not manual:
            expected = winners[k - 1]["ledgerIndex"]
            check(f"prize {k}: winning index recomputed", index == expected, expected, index)
        if k <= len(claimed):
            check(label, number == claimed[k - 1], f"#{claimed[k - 1]}", f"#{number}")
        else:
            print("  " + label)
    if len(claimed) > len(indexes):
        check("number of winners", False, len(indexes), len(claimed))
    check_instant_wins(data.get("instantWins"), seed, check)
    print("All checks passed." if all(results) else "Some checks FAILED.")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
