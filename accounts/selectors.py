"""Reads about identity that other apps ask for."""

from allauth.account.models import EmailAddress
from django.db.models import Exists, OuterRef


def email_verified(user) -> bool:
    """The customer has confirmed the address they log in with (the link we e-mailed them).

    Accounts from before e-mail confirmation existed got a confirmed address when it arrived
    (migration accounts 0007)."""
    if user is None or not user.is_authenticated:
        return False
    return EmailAddress.objects.filter(
        user_id=user.pk, email__iexact=user.email, verified=True
    ).exists()


def email_verified_exists() -> Exists:
    """`email_verified` as an annotation of a User queryset (True or False per row)."""
    return Exists(
        EmailAddress.objects.filter(
            user_id=OuterRef("pk"), email__iexact=OuterRef("email"), verified=True
        )
    )


def email_verified_sql(user: str) -> str:
    """`email_verified` as an SQL expression (PostgreSQL) on the user row aliased `user`, for a
    statement that reads the customer's row anyway (tests/tickets/test_standing.py holds it equal
    to the ORM's)."""
    table = EmailAddress._meta.db_table
    return (
        f"EXISTS (SELECT 1 FROM {table} e WHERE e.user_id = {user}.id"
        f" AND UPPER(e.email::text) = UPPER({user}.email::text) AND e.verified)"
    )
