"""Reads about identity that other apps ask for."""

from allauth.account.models import EmailAddress


def email_verified(user) -> bool:
    """The customer has confirmed the address they log in with (the link we e-mailed them).

    Accounts from before e-mail confirmation existed got a confirmed address when it arrived
    (migration accounts 0007)."""
    if user is None or not user.is_authenticated:
        return False
    return EmailAddress.objects.filter(
        user_id=user.pk, email__iexact=user.email, verified=True
    ).exists()
