"""Checking a customer's signed entry receipt against a competition's frozen entry ledger
(docs/architecture.md §4, "Entry receipts"): `manage.py verify_draw <competition> --receipt`.

The same checks as the published script's `--receipt` (draws/static/draws/verify_draw.py): the
signature against the published keys (tickets.receipts), then every number the receipt puts in
the draw against the ledger as the database holds it, which must still hash to the frozen
ledger hash. A number missing from it is proof of an omission; where the database says why (the
ticket was refunded), the check says so too.
"""

from tickets import receipts
from tickets.models import Ticket
from tickets.selectors import receipt_keys_published

from . import fairness
from .models import Draw
from .selectors import ledger_numbers
from .verification import Check


def verify_receipt(draw: Draw, document: dict) -> list[Check]:
    competition_id = draw.competition_id
    found = receipts.signature_checks(document, receipt_keys_published())
    payload = document.get("receipt") or {}
    wanted = {
        number
        for entry in payload.get("entries") or []
        if (entry.get("competition") or {}).get("id") == competition_id and entry.get("in_draw")
        for number in entry.get("numbers") or []
    }
    hasher, present = fairness.LedgerHasher(), set()
    for number in ledger_numbers(competition_id):
        hasher.add(number)
        if number in wanted:
            present.add(number)
    checks = [Check(c.name, c.ok, c.expected, c.actual) for c in found]
    checks.append(
        Check(
            "Entry ledger recomputed from the tickets matches its frozen hash",
            hasher.hexdigest() == draw.ledger_hash,
            draw.ledger_hash,
            hasher.hexdigest(),
        )
    )
    for check in receipts.ledger_checks(
        document, competition_id=competition_id, in_ledger=present.__contains__
    ):
        actual = check.actual
        if not check.ok and wanted - present:
            actual += _why_missing(competition_id, sorted(wanted - present))
        checks.append(Check(check.name, check.ok, check.expected, actual))
    return checks


def _why_missing(competition_id: int, numbers: list[int]) -> str:
    """What the database says of the missing numbers (for the operator, not the customer)."""
    refunded = Ticket.objects.filter(
        competition_id=competition_id, number__in=numbers, status=Ticket.Status.REFUNDED
    ).values_list("number", "refunded_at")
    notes = [f"#{number} refunded {moment:%Y-%m-%d %H:%M} UTC" for number, moment in refunded]
    return f"; the database records {', '.join(notes)}" if notes else ""
