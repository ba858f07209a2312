"""The public randomness beacon a draw mixes in (docs/architecture.md §4, step 3).

A draw's randomness must come from somewhere the operator cannot know or bias in advance:
drand's League of Entropy "quicknet" chain, which signs round r (published at
genesis + (r − 1) × period) with a threshold BLS key; the round's randomness is the SHA-256 of
its signature. The round a draw uses is fixed by rule when the seed is committed (the first
round at or after the close plus a margin), so it did not exist when the ledger was frozen.

Two providers behind one interface, chosen by `FAIRDRAW_BEACON` (like the payment gateways):
- `DrandBeacon` (production): asks several relays in turn, retries with back-off, and accepts a
  round only when its BLS signature verifies against the pinned quicknet key, it is the round
  asked for, and its randomness is SHA-256(signature).
- `DemoBeacon` (development, tests, demo data): the same round schedule, signed with a local
  Ed25519 key. Labelled "demo beacon" wherever it is shown; production refuses it
  (config/checks.py). It serves any round whose time has come, past ones included, so demo
  data need not wait.

The functions at the top are plain Python (the verification script repeats them); the
providers read Django settings only in `beacon_current` and `beacon_for_chain`.
"""

import hashlib
import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime

logger = logging.getLogger(__name__)

QUICKNET_CHAIN = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"
QUICKNET_PUBLIC_KEY = (
    "83cf0f2896adee7eb8b5f01fcad3912212c437e0073e911fb90022d3e760183c"
    "8c4b450b6a0a6c3ac6a5776a2d1064510d1fec758c921cc22b0e17e63aaf4bcb"
    "5ed66304de9cf809bd274ca73bab4af5a6e9c76a4bc09e76eae8991ef5ece45a"
)
QUICKNET_SCHEME = "bls-unchained-g1-rfc9380"
GENESIS = 1692803367
PERIOD = 3
BLS_DST = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
# The demo beacon's key when FAIRDRAW_DEMO_BEACON_KEY is empty: public on purpose (it is a demo).
DEMO_KEY_DEFAULT = hashlib.sha256(b"fairdraw demo beacon").hexdigest()


# ------------------------------------------------------------------ rules (no Django)


def round_time(round_number: int) -> datetime:
    """When a round is published (both providers keep quicknet's schedule)."""
    return datetime.fromtimestamp(GENESIS + (round_number - 1) * PERIOD, tz=UTC)


def round_at_or_after(moment: datetime) -> int:
    """The first round published at or after `moment`."""
    seconds = moment.timestamp() - GENESIS
    if seconds <= 0:
        return 1
    rounds, rest = divmod(seconds, PERIOD)
    return int(rounds) + 1 + (1 if rest > 0 else 0)


def round_message(round_number: int) -> bytes:
    """What an unchained round signs: SHA-256 of the round as 8 big-endian bytes."""
    return hashlib.sha256(round_number.to_bytes(8, "big")).digest()


def randomness_of(signature_hex: str) -> str:
    try:
        return hashlib.sha256(bytes.fromhex(signature_hex)).hexdigest()
    except ValueError:
        return "(signature is not hex)"


def bls_verify(round_number: int, signature_hex: str, public_key_hex: str) -> bool:
    """Quicknet's check (scheme bls-unchained-g1-rfc9380): the signature (G1, 48 bytes) over
    round_message(round), hashed to G1 with BLS_DST, against the public key (G2, 96 bytes):
    e(signature, G2 generator) == e(H(message), public key). About half a second of CPU."""
    from py_ecc.bls.g2_primitives import subgroup_check
    from py_ecc.bls.hash_to_curve import hash_to_G1
    from py_ecc.bls.point_compression import decompress_G1, decompress_G2
    from py_ecc.optimized_bls12_381 import FQ12, G2, final_exponentiate, neg, pairing

    try:
        signature, key = bytes.fromhex(signature_hex), bytes.fromhex(public_key_hex)
        if len(signature) != 48 or len(key) != 96:
            return False
        point = decompress_G1(int.from_bytes(signature, "big"))
        public = decompress_G2((int.from_bytes(key[:48], "big"), int.from_bytes(key[48:], "big")))
    except (ValueError, TypeError):
        return False
    if not (subgroup_check(point) and subgroup_check(public)):
        return False
    hashed = hash_to_G1(round_message(round_number), BLS_DST, hashlib.sha256)
    product = pairing(neg(G2), point, final_exponentiate=False) * pairing(
        public, hashed, final_exponentiate=False
    )
    return final_exponentiate(product) == FQ12.one()


def ed25519_verify(round_number: int, signature_hex: str, public_key_hex: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
        key.verify(bytes.fromhex(signature_hex), round_message(round_number))
    except (ValueError, InvalidSignature):
        return False
    return True


# ------------------------------------------------------------------ the providers


@dataclass(frozen=True)
class BeaconRound:
    """One round as a provider vouched for it (verified before it is handed out)."""

    chain: str
    round: int
    signature: str
    randomness: str
    demo: bool = False


class BeaconError(Exception):
    """The round could not be had. `permanent` says whether asking again can help."""

    permanent = False


class BeaconNotYet(BeaconError):
    """The round's time has not come: the draw waits for it."""


class BeaconUnavailable(BeaconError):
    """No relay answered with the round (down, slow, not published there yet)."""


class BeaconInvalid(BeaconError):
    """What came back is not the round: a bad signature, another round, a randomness that is
    not SHA-256(signature). Never used; the operators are told."""

    permanent = True


class Beacon:
    """A source of rounds on quicknet's schedule. `fetch` returns a verified round or raises
    a BeaconError; `problems` says what is wrong with a round someone hands back."""

    name = ""
    chain = ""
    public_key = ""
    scheme = ""
    demo = False

    def fetch(self, round_number: int, *, now: datetime) -> BeaconRound:
        raise NotImplementedError

    def signature_ok(self, round_number: int, signature: str) -> bool:
        raise NotImplementedError

    def problems(self, beacon: BeaconRound, *, expected_round: int) -> list[str]:
        found = []
        if beacon.chain != self.chain:
            found.append(f"chain {beacon.chain[:16]}… is not {self.chain[:16]}…")
        if beacon.round != expected_round:
            found.append(f"round {beacon.round} is not the round asked for ({expected_round})")
        if not self.signature_ok(expected_round, beacon.signature):
            found.append(f"the signature does not verify for round {expected_round}")
        if beacon.randomness != randomness_of(beacon.signature):
            found.append("the randomness is not SHA-256(signature)")
        return found


class DrandBeacon(Beacon):
    name = "drand quicknet"
    chain = QUICKNET_CHAIN
    public_key = QUICKNET_PUBLIC_KEY
    scheme = QUICKNET_SCHEME

    def __init__(self, relays, *, timeout=5.0, attempts=3, backoff=1.0, sleep=time.sleep):
        self.relays = [relay.rstrip("/") for relay in relays]
        self.timeout, self.attempts, self.backoff, self._sleep = timeout, attempts, backoff, sleep

    def signature_ok(self, round_number: int, signature: str) -> bool:
        return bls_verify(round_number, signature, self.public_key)

    def url(self, relay: str, round_number: int) -> str:
        return f"{relay}/{self.chain}/public/{round_number}"

    def fetch(self, round_number: int, *, now: datetime) -> BeaconRound:
        if now < round_time(round_number):
            raise BeaconNotYet(
                f"drand round {round_number} is published at {round_time(round_number):%Y-%m-%d %H:%M:%S} UTC."
            )
        refused: list[str] = []
        failed: list[str] = []
        for attempt in range(max(1, self.attempts)):
            if attempt:
                self._sleep(self.backoff * 2 ** (attempt - 1))
            for relay in self.relays:
                try:
                    beacon = self._ask(relay, round_number)
                except BeaconUnavailable as error:
                    failed.append(f"{relay}: {error}")
                    continue
                problems = self.problems(beacon, expected_round=round_number)
                if not problems:
                    return beacon
                refused.append(f"{relay}: " + "; ".join(problems))
                logger.warning("Refused drand round %s from %s: %s", round_number, relay, problems)
            if refused:
                break  # a relay serving a forged round is not fixed by asking again now
        if refused:
            raise BeaconInvalid(
                f"drand round {round_number} refused: " + " | ".join(refused + failed[-3:])
            )
        raise BeaconUnavailable(
            f"No drand relay answered with round {round_number}: " + " | ".join(failed[-4:])
        )

    def _ask(self, relay: str, round_number: int) -> BeaconRound:
        request = urllib.request.Request(
            self.url(relay, round_number), headers={"Accept": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = json.loads(response.read(64 * 1024))
            return BeaconRound(
                chain=self.chain,
                round=int(data["round"]),
                signature=str(data["signature"]).lower(),
                randomness=str(data["randomness"]).lower(),
            )
        except urllib.error.HTTPError as error:
            raise BeaconUnavailable(f"HTTP {error.code}") from error
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise BeaconUnavailable(f"{type(error).__name__}: {error}") from error


class DemoBeacon(Beacon):
    """A stand-in for drand that needs no network: round r is the Ed25519 signature of
    round_message(r) with a local key (deterministic, so a round never changes), available
    from round_time(r). Anyone holding the key could make any round: demos only."""

    name = "demo beacon"
    scheme = "demo-ed25519"
    demo = True

    def __init__(self, private_key_hex: str = ""):
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        self._key = Ed25519PrivateKey.from_private_bytes(
            bytes.fromhex(private_key_hex or DEMO_KEY_DEFAULT)
        )
        raw = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_key = raw.hex()
        self.chain = hashlib.sha256(b"fairdraw-demo-beacon:" + raw).hexdigest()

    def signature_ok(self, round_number: int, signature: str) -> bool:
        return ed25519_verify(round_number, signature, self.public_key)

    def fetch(self, round_number: int, *, now: datetime) -> BeaconRound:
        if now < round_time(round_number):
            raise BeaconNotYet(
                f"Demo beacon round {round_number} is due at {round_time(round_number):%Y-%m-%d %H:%M:%S} UTC."
            )
        signature = self._key.sign(round_message(round_number)).hex()
        return BeaconRound(
            chain=self.chain,
            round=round_number,
            signature=signature,
            randomness=randomness_of(signature),
            demo=True,
        )


def beacon_current() -> Beacon:
    """The provider the settings choose (`FAIRDRAW_BEACON`)."""
    from django.conf import settings

    if settings.FAIRDRAW_BEACON == "drand":
        return DrandBeacon(
            settings.FAIRDRAW_DRAND_RELAYS,
            timeout=settings.FAIRDRAW_BEACON_TIMEOUT_SECONDS,
            attempts=settings.FAIRDRAW_BEACON_ATTEMPTS,
            backoff=settings.FAIRDRAW_BEACON_BACKOFF_SECONDS,
        )
    if settings.FAIRDRAW_BEACON == "demo":
        return DemoBeacon(settings.FAIRDRAW_DEMO_BEACON_KEY)
    raise ValueError(
        f"FAIRDRAW_BEACON must be 'drand' or 'demo', not {settings.FAIRDRAW_BEACON!r}."
    )


def beacon_for_chain(chain: str) -> Beacon | None:
    """The provider that can check rounds of `chain` (drand quicknet always; the demo beacon
    when the chain is this site's demo key), or None for a chain nobody here knows."""
    from django.conf import settings

    current = beacon_current()
    if chain == current.chain:
        return current
    if chain == QUICKNET_CHAIN:
        return DrandBeacon(settings.FAIRDRAW_DRAND_RELAYS)
    demo = DemoBeacon(settings.FAIRDRAW_DEMO_BEACON_KEY)
    return demo if chain == demo.chain else None


def beacon_label(chain: str) -> str:
    """How pages name a chain: "drand quicknet", "demo beacon" or "unknown beacon"."""
    if chain == QUICKNET_CHAIN:
        return DrandBeacon.name
    provider = beacon_for_chain(chain) if chain else None
    return provider.name if provider else "unknown beacon"
