from django.core.management.base import CommandError

from competitions.models import Competition


def competition_arg(value: str) -> Competition:
    """`<competition>` is an id or a slug (docs/architecture.md §5)."""
    lookup = {"pk": int(value)} if value.isdigit() else {"slug": value}
    try:
        return Competition.objects.get(**lookup)
    except Competition.DoesNotExist:
        raise CommandError(f"No competition with id or slug {value!r}.") from None
