from __future__ import annotations

from django import template

from exercises.engine import STEP_KINDS

register = template.Library()


@register.filter
def get_item(mapping, key):
    """``names|get_item:seat``: a dictionary lookup with a variable key."""
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""


@register.filter
def step_template(step) -> str:
    """``{% include step|step_template %}``: the template its step kind declares."""
    return STEP_KINDS[step.kind].template


@register.filter
def duration(seconds):
    """A length of time as people say it: "45 s", "25 min", "1 h 5 min"."""
    if seconds in (None, ""):
        return ""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
