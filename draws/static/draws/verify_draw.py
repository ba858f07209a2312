#!/usr/bin/env python3
"""Check a Fairdraw draw yourself. Python 3.8+, standard library only, no network access
(except `--site`, which fetches the published receipt keys).

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
The entropy is the randomness of a drand "quicknet" round announced when the competition
opened: randomness = SHA-256(signature), checked here. The round's BLS signature is checked too
when the py_ecc package is installed (pip install "py-ecc>=8,<9"); otherwise the script prints
the round and a relay address to compare it with. A redraw (a disqualified winner's prize drawn
again) uses the same rule with its own announced round's randomness, skipping every earlier
winner's index (and, with one prize per customer, every entry of those winners' owners: the
disqualified winner's owner included).

One prize per customer (draw.json says "onePrizePerCustomer": true): also download the owners
list (one pseudonymous owner label per ledger line) and run
    python3 verify_draw.py draw.json ledger.txt owners.txt
its SHA-256 must be the published owners hash, an attempt landing on an entry whose owner
already won is rejected too, and there are at most as many prizes as owners. A redraw skips
every entry whose owner is the owner of an earlier winner (standing or disqualified).

Check your signed entry receipt (from your account) against the frozen ledger once entries close:

    python3 verify_draw.py draw.json ledger.txt --receipt receipt.json --site https://SITE

(or `--keys keys.json`, saved from https://SITE/receipts/keys.json).

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
import time

SPACE = 1 << 256
QUICKNET_CHAIN = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"
QUICKNET_PUBLIC_KEY = (
    "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c"
    "8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb"
    "5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a"
)
GENESIS, PERIOD = 1692803367, 3
BLS_DST = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"


def hmac_int(seed, message):
    """HMAC-SHA256(key=seed bytes, message) read as a big-endian integer."""
    digest = hmac.new(bytes.fromhex(seed), message.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest, "big")


def winning_indexes(seed, ledger_hash, entropy, count, prizes, fixed=(), owners=None):
    """The ledger indexes of prizes 1..prizes. `owners` (one prize per customer): the owners
    list, a label per index; an index whose owner already won is rejected too."""
    if count <= 0:
        return []
    if owners is not None:
        prizes = min(prizes, len(set(owners)))
    limit = SPACE - SPACE % count
    chosen = list(fixed)[:prizes]
    for prize in range(len(chosen) + 1, min(prizes, count) + 1):
        attempt = 0
        while True:
            value = hmac_int(seed, f"{ledger_hash}|{entropy}|{prize}|{attempt}")
            attempt += 1
            if value >= limit:
                continue
            index = value % count
            if index in chosen:
                continue
            if owners is not None and owners[index] in {owners[i] for i in chosen}:
                continue
            chosen.append(index)
            break
    return chosen


def instant_win_numbers(seed, max_tickets, count):
    limit = SPACE - SPACE % max_tickets
    chosen = []
    for i in range(count):
        attempt = 0
        while True:
            value = hmac_int(seed, f"instant|{i}|{attempt}")
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


def read_owners(path):
    """SHA-256 of the owners list file and its labels, one per ledger line."""
    sha, labels = hashlib.sha256(), []
    with open(path, "rb") as owners:
        for line in owners:
            sha.update(line)
            labels.append(int(line))
    return sha.hexdigest(), labels


def redraw_index(seed, ledger_hash, entropy, count, prize, excluded, owners=None):
    """The redraw's ledger index, skipping the excluded indexes (every earlier winner) and,
    with `owners` (one prize per customer), every entry of their owners. None: nobody left."""
    excluded = set(excluded)
    if count <= 0:
        return None
    barred = {owners[i] for i in excluded if 0 <= i < count} if owners is not None else set()
    if owners is None and len({i for i in excluded if 0 <= i < count}) >= count:
        return None
    if owners is not None and all(i in excluded or owners[i] in barred for i in range(count)):
        return None
    limit, attempt = SPACE - SPACE % count, 0
    while True:
        value = hmac_int(seed, f"{ledger_hash}|{entropy}|{prize}|{attempt}")
        attempt += 1
        if value >= limit or value % count in excluded:
            continue
        if owners is not None and owners[value % count] in barred:
            continue
        return value % count


def round_message(number):
    return hashlib.sha256(number.to_bytes(8, "big")).digest()


def verify_signature(beacon):
    """True or False when the signature can be checked here, None when it cannot."""
    number, signature = beacon["round"], beacon.get("signature") or ""
    if beacon.get("chain") == QUICKNET_CHAIN:
        try:
            from py_ecc.bls.g2_primitives import subgroup_check
            from py_ecc.bls.hash_to_curve import hash_to_G1
            from py_ecc.bls.point_compression import decompress_G1, decompress_G2
            from py_ecc.optimized_bls12_381 import FQ12, G2, final_exponentiate, neg, pairing
        except ImportError:
            return None
        try:
            sig, key = bytes.fromhex(signature), bytes.fromhex(QUICKNET_PUBLIC_KEY)
            point = decompress_G1(int.from_bytes(sig, "big"))
            public = decompress_G2(
                (int.from_bytes(key[:48], "big"), int.from_bytes(key[48:], "big"))
            )
        except (ValueError, TypeError):
            return False
        if len(sig) != 48 or not subgroup_check(point):
            return False
        hashed = hash_to_G1(round_message(number), BLS_DST, hashlib.sha256)
        product = pairing(neg(G2), point, final_exponentiate=False) * pairing(
            public, hashed, final_exponentiate=False
        )
        return final_exponentiate(product) == FQ12.one()
    if beacon.get("demo"):
        try:
            from cryptography.exceptions import InvalidSignature
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        except ImportError:
            return None
        try:
            key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(beacon["publicKey"]))
            key.verify(bytes.fromhex(signature), round_message(number))
        except (ValueError, KeyError, TypeError, InvalidSignature):
            return False
        return True
    return False


def check_beacon(check, label, beacon, announced, used_entropy):
    """The round is the announced one, its randomness is SHA-256(signature) and is what was
    mixed in, and (when it can be checked here) its signature verifies."""
    number = beacon.get("round")
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(GENESIS + (number - 1) * PERIOD))
    name = "demo beacon (a local stand-in, not drand)" if beacon.get("demo") else "drand quicknet"
    print(f"  {label}: {name} round {number}, published {when}")
    check(f"{label}: beacon round is the one announced", number == announced, announced, number)
    signature = beacon.get("signature") or ""
    try:
        actual = hashlib.sha256(bytes.fromhex(signature)).hexdigest()
    except ValueError:
        actual = "(signature is not hex)"
    randomness = beacon.get("randomness")
    check(f"{label}: randomness = SHA-256(signature)", randomness == actual, actual, randomness)
    check(f"{label}: that randomness is what was mixed in", used_entropy == randomness,
          randomness, used_entropy)  # fmt: skip
    verified = verify_signature(beacon)
    if verified is None:
        print(f"  note: install py-ecc to check the signature here, or compare round {number}")
        print(f"        with https://api.drand.sh/{QUICKNET_CHAIN}/public/{number}")
    else:
        check(f"{label}: the round's signature verifies", verified, "a valid signature", signature)


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
    parser.add_argument("files", nargs="+", help="[draw.json] ledger.txt [owners.txt]")
    parser.add_argument("--seed")
    parser.add_argument("--commitment")
    parser.add_argument("--ledger-hash")
    parser.add_argument("--entropy", default="")
    parser.add_argument("--prizes", type=int, default=1)
    parser.add_argument("--winners", default="", help="winning ticket numbers, in prize order")
    parser.add_argument("--manual-index", type=int, help="ledger index of a manual 1st prize")
    parser.add_argument("--receipt", help="check a signed entry receipt against the ledger")
    parser.add_argument("--keys", help="the published receipt keys (keys.json)")
    parser.add_argument("--site", help="fetch the receipt keys from this site, e.g. https://...")
    args = parser.parse_args(argv)

    data = {}
    if len(args.files) >= 2:
        with open(args.files[0], encoding="utf-8") as f:
            data = json.load(f)
    ledger_path = args.files[1] if len(args.files) >= 2 else args.files[0]
    owners_path = args.files[2] if len(args.files) == 3 else None
    if args.receipt:
        return receipt_main(args, data, ledger_path)
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
    if data.get("onePrizePerCustomer"):
        if owners_path is None:
            parser.error("one prize per customer: give the owners list too (owners.txt)")
        owners_hash, owners = read_owners(owners_path)
        published = data.get("ownersHash")
        check(
            "owners list hashes to the published owners hash",
            owners_hash == published,
            published,
            owners_hash,
        )
        check(
            "owners list has one label per ledger entry",
            len(owners) == published_count,
            published_count,
            len(owners),
        )
        indexes = winning_indexes(
            seed, ledger_hash, entropy, published_count, prizes, fixed, owners=owners
        )
        won = [owners[i] for i in indexes if i < len(owners)]
        check("no owner wins twice", len(won) == len(set(won)), "distinct labels", won)
    else:
        owners = None
        indexes = winning_indexes(seed, ledger_hash, entropy, published_count, prizes, fixed)
    redraws = [r for r in data.get("redraws") or [] if r.get("status") != "pending"]
    wanted = set(indexes) | {r["ledgerIndex"] for r in redraws if r.get("ledgerIndex") is not None}
    file_hash, count, ascending, found = read_ledger(ledger_path, wanted)
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
    beacon = data.get("beacon")
    if beacon and beacon.get("signature"):
        check_beacon(check, "draw", beacon, beacon.get("announcedRound"), entropy)
    won = set(indexes)
    for redraw in redraws:
        label = f"redraw {redraw['sequence']} (prize {redraw['prizePosition']})"
        print(f"  {label}: ticket #{redraw['disqualifiedTicketNumber']} disqualified, "
              f"{redraw['reasonLabel']}: {redraw['reasonDetail']}")  # fmt: skip
        check(f"{label}: the disqualified ticket had won", redraw["disqualifiedLedgerIndex"] in won)
        check(f"{label}: every earlier winner is excluded",
              sorted(redraw["excludedIndexes"]) == sorted(won), sorted(won),
              sorted(redraw["excludedIndexes"]))  # fmt: skip
        check_beacon(check, label, redraw["beacon"], redraw["beacon"]["round"],
                     redraw["beacon"]["randomness"])  # fmt: skip
        index = redraw_index(seed, ledger_hash, redraw["beacon"]["randomness"] or "",
                             published_count, redraw["prizePosition"], won, owners)  # fmt: skip
        check(f"{label}: new winning index recomputed", index == redraw["ledgerIndex"], index,
              redraw["ledgerIndex"])  # fmt: skip
        new = redraw["ledgerIndex"]
        if owners is not None and new is not None:
            barred = sorted({owners[i] for i in won if i < len(owners)})
            mine = owners[new] if 0 <= new < len(owners) else None
            check(f"{label}: no earlier winner's customer wins it (one prize per customer)",
                  mine is not None and mine not in barred, f"a label not in {barred}", mine)  # fmt: skip
        if index is not None:
            number = found.get(index)
            check(f"{label}: ledger index {index} → ticket #{number}",
                  number == redraw["ticketNumber"], f"#{redraw['ticketNumber']}", f"#{number}")  # fmt: skip
            won.add(index)
    check_instant_wins(data.get("instantWins"), seed, check)
    print("All checks passed." if all(results) else "Some checks FAILED.")
    return 0 if all(results) else 1


# --- Entry receipts ---------------------------------------------------------------------------
# python3 verify_draw.py [draw.json] ledger.txt --receipt receipt.json (--keys keys.json | --site URL)
# checks that the receipt is signed by one of the operator's published Ed25519 keys, valid when it
# was issued, and that every number it puts in the draw is in the frozen entry ledger; a number
# missing from the ledger is proof of an omission. The signature is over the receipt's canonical
# JSON (sorted keys, no whitespace, UTF-8). Ed25519 is checked with the `cryptography` package if
# it is installed, otherwise with the standard-library implementation of RFC 8032 below.

RECEIPT_FORMAT = "fairdraw.entry-receipt"
RECEIPT_VERSION = 1
_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _ed_add(a, b):
    """Adding two points in extended coordinates (X, Y, Z, T), RFC 8032 §5.1.4."""
    x = (a[1] - a[0]) * (b[1] - b[0]) % _P
    y = (a[1] + a[0]) * (b[1] + b[0]) % _P
    c = 2 * a[3] * b[3] * _D % _P
    z = 2 * a[2] * b[2] % _P
    e, f, g, h = y - x, z - c, z + c, y + x
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _ed_mul(scalar, point):
    result = (0, 1, 1, 0)
    while scalar:
        if scalar & 1:
            result = _ed_add(result, point)
        point = _ed_add(point, point)
        scalar >>= 1
    return result


def _ed_equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % _P == 0 and (a[1] * b[2] - b[1] * a[2]) % _P == 0


def _ed_recover_x(y, sign):
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P:
        return None
    return _P - x if (x & 1) != sign else x


def _ed_decompress(raw):
    if len(raw) != 32:
        return None
    y = int.from_bytes(raw, "little")
    x = _ed_recover_x(y & ((1 << 255) - 1), y >> 255)
    if x is None:
        return None
    y &= (1 << 255) - 1
    return (x, y, 1, x * y % _P)


_G_Y = 4 * pow(5, _P - 2, _P) % _P
_G_X = _ed_recover_x(_G_Y, 0)
_G = (_G_X, _G_Y, 1, _G_X * _G_Y % _P)


def ed25519_verify_pure(public_key, signature, message):
    """RFC 8032 §5.1.7 verification, standard library only: [S]B == R + [H(R,A,M)]A."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a = _ed_decompress(public_key)
    r = _ed_decompress(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= _L:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(), "little")
    return _ed_equal(_ed_mul(s, _G), _ed_add(r, _ed_mul(h % _L, a)))


def ed25519_verify(public_key, signature, message):
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        return ed25519_verify_pure(public_key, signature, message)
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def canonical(payload):
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _utc(text):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))  # aware: compares across zones


def load_receipt_keys(keys_path, site):
    """The published keys: from a saved keys.json, or fetched from <site>/receipts/keys.json."""
    if keys_path:
        with open(keys_path, encoding="utf-8") as f:
            return json.load(f)["keys"]
    from urllib.request import urlopen

    with urlopen(site.rstrip("/") + "/receipts/keys.json", timeout=30) as response:
        return json.load(response)["keys"]


def receipt_signature_checks(document, keys, check):
    """Signed by a published key, over the canonical receipt, while that key was valid."""
    import base64
    import binascii

    payload = document.get("receipt")
    if not isinstance(payload, dict) or payload.get("format") != RECEIPT_FORMAT:
        check("receipt format", False, RECEIPT_FORMAT, "not a Fairdraw entry receipt")
        return
    check("receipt format version", payload.get("version") == RECEIPT_VERSION,
          RECEIPT_VERSION, payload.get("version"))  # fmt: skip
    key = next((k for k in keys if k.get("key_id") == document.get("key_id")), None)
    if key is None:
        check("signed by a published key", False, "a published key id", document.get("key_id"))
        return
    try:
        ok = ed25519_verify(
            base64.b64decode(key["public_key"], validate=True),
            base64.b64decode(str(document.get("signature", "")), validate=True),
            canonical(payload),
        )
    except binascii.Error:
        ok = False
    check(f"Ed25519 signature by key {key['key_id']} over the canonical receipt", ok,
          "a valid signature", "the signature does not match: forged or altered")  # fmt: skip
    try:
        issued = _utc(payload["issued_at"])
    except (KeyError, TypeError, ValueError):
        issued = None
    start, end = key.get("valid_from"), key.get("retired_at")
    valid = (
        issued is not None
        and start is not None
        and _utc(start) <= issued
        and (end is None or issued <= _utc(end))
    )
    check(f"key {key['key_id']} was valid when the receipt was issued", valid,
          f"from {start} to {end or 'now'}", payload.get("issued_at"))  # fmt: skip


def receipt_main(args, data, ledger_path):
    """`--receipt`: check a receipt against the published keys and the frozen ledger."""
    with open(args.receipt, encoding="utf-8") as f:
        document = json.load(f)
    if not (args.keys or args.site):
        sys.exit("--receipt needs the published keys: --keys keys.json or --site https://...")
    results = []

    def check(name, ok, expected="", actual=""):
        results.append(ok)
        print(("✓ " if ok else "✗ ") + name)
        if not ok:
            print(f"    expected {expected}\n    actual   {actual}")

    receipt_signature_checks(document, load_receipt_keys(args.keys, args.site), check)
    payload = document.get("receipt") or {}
    entries = payload.get("entries") or []
    competition_id = data.get("competitionId")
    if competition_id is None and len(entries) == 1:
        competition_id = entries[0]["competition"]["id"]
    if competition_id is None:
        sys.exit("This receipt covers several competitions: give that competition's draw.json.")
    mine = [e for e in entries if e.get("competition", {}).get("id") == competition_id]
    wanted = {n for e in mine if e.get("in_draw", True) for n in e.get("numbers", [])}
    sha, found = hashlib.sha256(), set()
    with open(ledger_path, "rb") as ledger:
        for line in ledger:
            sha.update(line)
            if int(line) in wanted:
                found.add(int(line))
    ledger_hash = args.ledger_hash or data.get("ledgerHash")
    if ledger_hash:
        check("ledger file hashes to the published ledger hash", sha.hexdigest() == ledger_hash,
              ledger_hash, sha.hexdigest())  # fmt: skip
    else:
        print("  note: no published ledger hash given (draw.json or --ledger-hash), so the ledger")
        print("        file itself is not checked against it")
    if not mine:
        check("the receipt has entries in this competition", False, competition_id, "none")
    for entry in mine:
        numbers = sorted(entry.get("numbers", []))
        title = entry["competition"].get("title", "")
        if not entry.get("in_draw", True):
            print(
                f"  {title}: {len(numbers)} number(s) not in the draw (wrong answer), not checked"
            )
            continue
        missing = [n for n in numbers if n not in found]
        check(f"{title}: all {len(numbers)} number(s) of the receipt are in the frozen ledger",
              not missing, "every number",
              "proof of an omission: missing from the ledger: " + ", ".join(f"#{n}" for n in missing)
              + " (unless refunded to you before the close)")  # fmt: skip
    print("Receipt checks passed." if all(results) else "Receipt checks FAILED.")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
