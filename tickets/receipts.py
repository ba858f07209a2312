"""Signed entry receipts: the format, the operator's keys, signing and checking
(docs/architecture.md §4, "Entry receipts").

A receipt is a JSON document `{"receipt": PAYLOAD, "key_id": ID, "signature": BASE64}`. The
signature is Ed25519 over the payload's canonical bytes: `canonical(payload)`, JSON with sorted
keys, no whitespace, UTF-8 (only strings, integers, booleans, lists and objects appear in it, so
any JSON library reads it back to the same bytes). The payload says what was entered: its kind
(a paid order or a free postal entry), reference, when it was entered and issued, and per
competition (id, slug, title) the ticket numbers and whether they are in the draw.

Keys come from FAIRDRAW_RECEIPT_KEYS: `keyid:base64-private-key` entries separated by commas or
whitespace, the first signing new receipts, the others kept for the record. Without it
(development and tests only: production refuses) the published development key below signs.
Each key is published with the time it first signed and the time a newer key took over
(`ReceiptKey`, `/receipts/keys.json`); a receipt verifies if its key was valid when it says it
was issued.

The checking half (`signature_checks`, `ledger_checks`) needs no Django: `manage.py
verify_draw --receipt` runs it, and the published script (draws/static/draws/verify_draw.py)
repeats it with the standard library alone.
"""

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

FORMAT = "fairdraw.entry-receipt"
VERSION = 1
KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# Development and tests only. Its private half is printed here for anyone to read, so a
# receipt signed by it proves nothing; production refuses it (config/checks.py, fairdraw.E006).
DEV_KEY_ID = "dev-not-secret"
DEV_KEY_SEED = hashlib.sha256(b"Fairdraw development receipt key: published, NOT SECRET").digest()


class ReceiptKeyError(ValueError):
    """FAIRDRAW_RECEIPT_KEYS cannot be used as it is (the message says why)."""


def canonical(payload: dict) -> bytes:
    """The bytes that are signed: sorted keys, no whitespace, UTF-8."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def utc_text(moment: datetime) -> str:
    """A time as receipts write it: UTC, whole seconds, `Z`."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    private: Ed25519PrivateKey

    @property
    def public_key(self) -> str:
        raw = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    @property
    def is_development(self) -> bool:
        return self.key_id == DEV_KEY_ID or self.public_key == DEV_KEY.public_key

    def sign(self, payload: dict) -> dict:
        """The receipt document for `payload`, signed with this key."""
        signature = self.private.sign(canonical(payload))
        return {
            "receipt": payload,
            "key_id": self.key_id,
            "signature": base64.b64encode(signature).decode(),
        }


DEV_KEY = SigningKey(DEV_KEY_ID, Ed25519PrivateKey.from_private_bytes(DEV_KEY_SEED))


@cache
def parse_keys(value: str) -> tuple[SigningKey, ...]:
    """FAIRDRAW_RECEIPT_KEYS read: the current key first. Empty: the development key."""
    entries = [entry for entry in re.split(r"[\s,]+", value.strip()) if entry]
    if not entries:
        return (DEV_KEY,)
    keys, seen = [], set()
    for entry in entries:
        key_id, colon, encoded = entry.partition(":")
        if not colon or not KEY_ID.match(key_id):
            raise ReceiptKeyError(
                "FAIRDRAW_RECEIPT_KEYS: each entry is keyid:base64-private-key (key ids: "
                "letters, digits, '.', '_' or '-'); `manage.py receipt_key` makes one."
            )
        if key_id in seen:
            raise ReceiptKeyError(f"FAIRDRAW_RECEIPT_KEYS names key {key_id!r} twice.")
        seen.add(key_id)
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raw = b""
        if len(raw) != 32:
            raise ReceiptKeyError(
                f"FAIRDRAW_RECEIPT_KEYS: key {key_id!r} is not 32 bytes of base64."
            )
        keys.append(SigningKey(key_id, Ed25519PrivateKey.from_private_bytes(raw)))
    return tuple(keys)


def signing_keys() -> tuple[SigningKey, ...]:
    from django.conf import settings

    return parse_keys(settings.FAIRDRAW_RECEIPT_KEYS or "")


def new_key(key_id: str) -> SigningKey:
    if not KEY_ID.match(key_id):
        raise ReceiptKeyError("A key id is 1-64 letters, digits, '.', '_' or '-'.")
    return SigningKey(key_id, Ed25519PrivateKey.generate())


def key_entry(key: SigningKey) -> str:
    """`keyid:base64-private-key`, as FAIRDRAW_RECEIPT_KEYS lists it."""
    raw = key.private.private_bytes_raw()
    return f"{key.key_id}:{base64.b64encode(raw).decode()}"


# --- checking (no Django) --------------------------------------------------------------------


@dataclass(frozen=True)
class PublishedKey:
    key_id: str
    public_key: str  # raw 32 bytes, base64
    valid_from: datetime | None  # None: has signed nothing yet
    retired_at: datetime | None = None

    @classmethod
    def from_json(cls, item: dict) -> "PublishedKey":
        return cls(
            item["key_id"],
            item["public_key"],
            parse_utc(item["valid_from"]) if item.get("valid_from") else None,
            parse_utc(item["retired_at"]) if item.get("retired_at") else None,
        )

    def as_json(self) -> dict:
        return {
            "key_id": self.key_id,
            "algorithm": "Ed25519",
            "public_key": self.public_key,
            "valid_from": utc_text(self.valid_from) if self.valid_from else None,
            "retired_at": utc_text(self.retired_at) if self.retired_at else None,
            "status": "retired" if self.retired_at else "current",
        }


@dataclass(frozen=True)
class ReceiptCheck:
    name: str
    ok: bool
    expected: str = ""
    actual: str = ""


def ed25519_verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def signature_checks(document: dict, keys: Sequence[PublishedKey]) -> list[ReceiptCheck]:
    """Is the receipt signed by a published key that was valid when it was issued?"""
    payload = document.get("receipt")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        return [ReceiptCheck("Receipt format", False, FORMAT, "not a Fairdraw entry receipt")]
    checks = [
        ReceiptCheck(
            "Receipt format version",
            payload.get("version") == VERSION,
            str(VERSION),
            str(payload.get("version")),
        )
    ]
    key_id = document.get("key_id")
    key = next((k for k in keys if k.key_id == key_id), None)
    if key is None:
        checks.append(
            ReceiptCheck("Signed by a published key", False, "a published key id", str(key_id))
        )
        return checks
    try:
        ok = ed25519_verify(
            base64.b64decode(key.public_key, validate=True),
            base64.b64decode(str(document.get("signature", "")), validate=True),
            canonical(payload),
        )
    except binascii.Error:
        ok = False
    checks.append(
        ReceiptCheck(
            f"Ed25519 signature by key {key_id} over the canonical receipt",
            ok,
            "a valid signature",
            "the signature does not match: forged or altered",
        )
    )
    try:
        issued = parse_utc(payload["issued_at"])
    except (KeyError, TypeError, ValueError):
        issued = None
    valid = (
        issued is not None
        and key.valid_from is not None
        and key.valid_from <= issued
        and (key.retired_at is None or issued <= key.retired_at)
    )
    span = f"from {utc_text(key.valid_from) if key.valid_from else '(never used)'}" + (
        f" to {utc_text(key.retired_at)}" if key.retired_at else " (current)"
    )
    checks.append(
        ReceiptCheck(
            f"Key {key_id} was valid when the receipt was issued",
            valid,
            span,
            str(payload.get("issued_at")),
        )
    )
    return checks


def ledger_checks(
    document: dict, *, competition_id: int, in_ledger: Callable[[int], bool]
) -> list[ReceiptCheck]:
    """Is every number this receipt puts in the competition's draw in its frozen ledger?
    A number that is not proves an omission (unless the customer had it refunded)."""
    payload = document.get("receipt") or {}
    entries = [
        entry
        for entry in payload.get("entries") or []
        if (entry.get("competition") or {}).get("id") == competition_id
    ]
    if not entries:
        return [
            ReceiptCheck(
                "The receipt has entries in this competition",
                False,
                f"competition {competition_id}",
                "none",
            )
        ]
    checks = []
    for entry in entries:
        numbers = sorted(entry.get("numbers") or [])
        if not entry.get("in_draw", True):
            checks.append(
                ReceiptCheck(
                    f"{len(numbers)} number(s) not in the draw (wrong answer to the skill "
                    "question), so not looked for in the ledger",
                    True,
                )
            )
            continue
        missing = [number for number in numbers if not in_ledger(number)]
        checks.append(
            ReceiptCheck(
                f"All {len(numbers)} number(s) of the receipt are in the frozen entry ledger",
                not missing,
                "every number",
                "proof of an omission: missing from the ledger: "
                + ", ".join(f"#{n}" for n in missing)
                + " (unless refunded to you before the close)",
            )
        )
    return checks
