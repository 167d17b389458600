"""``{% tabs %}`` and ``{% icon "name" %}``: the parts of every page that are the
same for everyone, drawn once per process.

The main tabs depend only on which of them is current (five states, not one
per path) and the icons only on their name; as includes they cost a dozen
URL reversals and six templates on every page drawn. Each is rendered from
its template the first time and kept (not under ``DEBUG``, where templates
change while the server runs). ``tests/home/test_site_tags.py`` compares them
with a fresh render.
"""

from __future__ import annotations

from django import template
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import get_script_prefix, reverse
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# Each tab: its icon and words, its page, and whether the pages below it
# (a ritual, a step of an exercise, the account's pages) make it current too.
TABS = (
    ("home", "dashboard", "Our space", False),
    ("rituals", "rituals", "Rituals", True),
    ("exercises", "exercises", "Exercises", True),
    ("rhythm", "rhythm", "Our rhythm", False),
    ("settings", "profile", "Settings", True),
)

_kept: dict[tuple, object] = {}


def _keep(key: tuple, draw):
    if settings.DEBUG:
        return draw()
    found = _kept.get(key)
    if found is None:
        found = _kept[key] = draw()
    return found


def _urls() -> tuple[str, ...]:
    return _keep(("urls", get_script_prefix()), lambda: tuple(reverse(t[1]) for t in TABS))


def current_marks(path: str) -> tuple[str, ...]:
    """Each tab's ``aria-current``: "page" on its own page, "true" below it, "" else."""
    marks = []
    for (_, route, _, below), url in zip(TABS, _urls(), strict=True):
        # The account's pages (allauth's too) sit in one folder with the settings.
        section = url.rsplit("/", 2)[0] + "/" if route == "profile" else url
        if path == url:
            marks.append("page")
        elif below and path.startswith(section):
            marks.append("true")
        else:
            marks.append("")
    return tuple(marks)


@register.simple_tag(takes_context=True)
def tabs(context: template.Context) -> SafeString:
    marks = current_marks(context["request"].path)

    def draw() -> SafeString:
        items = [
            {"icon": icon, "url": url, "words": words, "current": mark}
            for (icon, _, words, _), url, mark in zip(TABS, _urls(), marks, strict=True)
        ]
        return mark_safe(render_to_string("includes/tabs.html", {"tabs": items}))  # noqa: S308

    return _keep(("tabs", get_script_prefix(), marks), draw)


@register.simple_tag
def icon(name: str) -> SafeString:
    return _keep(
        ("icon", name),
        lambda: mark_safe(render_to_string("includes/icon.html", {"name": name})),  # noqa: S308
    )
