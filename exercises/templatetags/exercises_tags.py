from __future__ import annotations

from functools import cache

from django import template
from django.contrib.staticfiles import finders

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
@cache
def exercise_picture(key: str) -> str:
    """``{% static key|exercise_picture %}``: the exercise's own picture, or the
    generic one, so a new exercise needs no picture to show."""
    own = f"img/ex/{key}.svg"
    return own if finders.find(own) else "img/ex/exercise.svg"


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
    # No-break spaces: a number never ends a line without its unit.
    if seconds < 60:
        return f"{seconds}\u00a0s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes}\u00a0min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}\u00a0h {minutes}\u00a0min" if minutes else f"{hours}\u00a0h"


@register.filter
def lines(text):
    """The non-empty lines of a text: guides keep one step or rule a line."""
    return [line.strip() for line in str(text or "").splitlines() if line.strip()]
