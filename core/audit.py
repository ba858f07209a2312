"""The audit log's one writer: every service that changes money, draws, winners, users or
settings records who did it and the values before and after, inside its own transaction.

Secrets (seeds, password hashes, tokens) never reach the log."""

import re

# Keys whose values never reach the audit log (draw seeds, password hashes, API tokens).
SECRET_KEY_PATTERN = re.compile(r"seed(?!_commitment)|secret|password|token", re.IGNORECASE)
MASK = "********"


def _audit_safe(value):
    """JSON-ready copy of `value` with every secret-looking key masked, at any depth."""
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    def mask(item):
        if isinstance(item, dict):
            return {
                key: MASK if SECRET_KEY_PATTERN.search(str(key)) else mask(inner)
                for key, inner in item.items()
            }
        if isinstance(item, list):
            return [mask(inner) for inner in item]
        return item

    return mask(json.loads(json.dumps(value or {}, cls=DjangoJSONEncoder)))


def audit_snapshot(obj, fields) -> dict:
    """The named fields of a model instance (foreign keys as ids), for before/after."""
    snapshot = {}
    for name in fields:
        field = obj._meta.get_field(name)
        snapshot[name] = getattr(obj, field.attname)
    return snapshot


def audit_record(*, actor, action: str, obj, before=None, after=None, note: str = ""):
    """Write one audit entry. Call it inside the transaction of the change it records."""
    from django.contrib.contenttypes.models import ContentType

    from .models import AuditEntry

    return AuditEntry.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action[:50],
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False)
        if obj is not None
        else None,
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        before=_audit_safe(before),
        after=_audit_safe(after),
        note=note,
    )
