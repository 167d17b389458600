from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def kept_by(slot, user):
    """The viewer's own completion of this occurrence, if any."""
    return slot.kept_by(user)
