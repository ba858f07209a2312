"""`{% beacon_for competition as beacon %}`: the announced beacon round for pages of apps
below draws (the competition page), without them importing draws."""

from django import template

from draws.selectors import beacon_public

register = template.Library()


@register.simple_tag
def beacon_for(competition):
    return beacon_public(competition)
