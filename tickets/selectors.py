"""Reads of receipts and their keys that views, the API, template tags and commands share."""

from django.db.models import Q

from . import receipts
from .models import Receipt, ReceiptKey


def receipt_keys_published() -> list[receipts.PublishedKey]:
    """Every key that has signed receipts, newest first, and the configured current key even
    before it has signed anything (with no `valid_from` yet)."""
    published = [
        receipts.PublishedKey(row.key_id, row.public_key, row.valid_from, row.retired_at)
        for row in ReceiptKey.objects.order_by("-valid_from", "-id")
    ]
    try:
        current = receipts.signing_keys()[0]
    except receipts.ReceiptKeyError:
        return published
    if all(key.key_id != current.key_id for key in published):
        published.insert(0, receipts.PublishedKey(current.key_id, current.public_key, None))
    return published


def receipt_signature_checks(receipt: Receipt) -> list[receipts.ReceiptCheck]:
    """The receipt as stored, checked as its owner checks the download: its signature against
    the keys `/receipts/keys.json` publishes, and that the key was valid when it was issued."""
    return receipts.signature_checks(receipt.document, receipt_keys_published())


def receipts_for(user, competition_id: int):
    """The customer's receipts with entries in one competition (orders and postal entries)."""
    return (
        Receipt.objects.filter(user=user)
        .filter(Q(order__lines__competition_id=competition_id) | Q(competition_id=competition_id))
        .distinct()
        .order_by("issued_at", "id")
    )


def receipt_references_by_competition(user) -> dict[int, list[tuple[str, str]]]:
    """competition id -> [(reference, kind), ...] of the customer's receipts, in one query."""
    found: dict[int, list[tuple[str, str]]] = {}
    rows = (
        Receipt.objects.filter(user=user)
        .order_by("issued_at", "id")
        .values_list("reference", "kind", "competition_id", "order__lines__competition_id")
    )
    for reference, kind, postal_competition, order_competition in rows:
        competition_id = postal_competition or order_competition
        if competition_id is not None:
            found.setdefault(competition_id, []).append((reference, kind))
    return found
