from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def get_item(mapping, key):
    """``names|get_item:seat``: a dictionary lookup with a variable key."""
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""
