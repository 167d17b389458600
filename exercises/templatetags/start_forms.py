"""``{% start_forms flows %}``: the exercises page's start forms, rendered once per process.

A dozen forms, each with its radios and settings, are the same for everyone
who opens the page: only the CSRF token differs. So the list is rendered
once (with a placeholder token) and each request swaps in its own token. A
form posted back with errors is rendered afresh, as is everything in DEBUG
(templates may change under a development server).
"""

from __future__ import annotations

import threading

from django import template
from django.conf import settings
from django.template.loader import get_template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

TEMPLATE = "exercises/_start_forms.html"
PLACEHOLDER = "start-forms-csrf-token-placeholder"
_rendered: dict[tuple, str] = {}
_lock = threading.Lock()


@register.simple_tag(takes_context=True)
def start_forms(context: template.Context, flows: list[dict]) -> SafeString:
    lazy_token = context.get("csrf_token")
    token = str(lazy_token) if lazy_token else ""
    bound = any(item["form"].is_bound for item in flows)
    if settings.DEBUG or bound or token in ("", "NOTPROVIDED"):
        return _render(flows, lazy_token)
    # The flows themselves (not only their names): a registry changed in a
    # test, or an exercise added, is a different list.
    key = tuple((item["flow"].kind, id(item["flow"])) for item in flows)
    html = _rendered.get(key)
    if html is None:
        html = _render(flows, PLACEHOLDER)
        with _lock:
            _rendered[key] = html
    return mark_safe(html.replace(PLACEHOLDER, escape(token)))  # noqa: S308 (rendered, escaped)


def _render(flows: list[dict], csrf_token) -> SafeString:
    # Stripped: the list sits where the tag is, indented as the page has it.
    html = get_template(TEMPLATE).render({"flows": flows, "csrf_token": csrf_token}).strip()
    return mark_safe(html)  # noqa: S308 (a template's output, escaped by it)
