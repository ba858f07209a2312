"""`{% receipt_keys as keys %}`: the published receipt-signing keys, for pages above tickets
(the draw page, How we comply) without their views importing them."""

from django import template

from tickets.selectors import receipt_keys_published

register = template.Library()


@register.simple_tag
def receipt_keys():
    return receipt_keys_published()
