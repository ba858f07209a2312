"""Template tags for the responsible-play notices on the shop's pages."""

from django import template

from accounts.services import support_email as _support_email

register = template.Library()


@register.simple_tag
def support_email() -> str:
    """The address customers write to (the one our e-mails come from)."""
    return _support_email()
