"""Ritual template helpers, and ``{% slot %}``: one occurrence's row, written in Python.

``{% slot slot show_date=True %}`` writes the same markup as
``rituals/_slot.html`` (kept as the reference: ``tests/rituals/test_slot_tag.py``
renders both for every state a row can be in and compares them), from the
context's ``user``, ``today``, ``request`` and ``csrf_token``. A ritual's
history shows twenty rows, the week as many, the dashboard today's; as an
include each row cost a template render with a dozen tags, most of a
first look at those pages.
"""

from __future__ import annotations

from django import template
from django.template.base import render_value_in_context
from django.urls import reverse
from django.utils.dateformat import format as date_format
from django.utils.dateformat import time_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime

register = template.Library()


@register.filter
def kept_by(slot, user):
    """The viewer's own completion of this occurrence, if any."""
    return slot.kept_by(user)


def _form(action: str, key: str, occurrence: str, csrf: str, back: str, body: str) -> str:
    return (
        f'      <form method="post" action="{action}" hx-post="{action}" '
        f'hx-target="#slot-{key}" hx-swap="outerHTML" class="slot__form">\n'
        f"        {csrf}\n"
        f'        <input type="hidden" name="occurrence" value="{occurrence}">\n'
        f'        <input type="hidden" name="next" value="{back}">\n'
        f"{body}"
        "      </form>\n"
    )


@register.simple_tag(takes_context=True)
def slot(context: template.Context, slot, show_date: bool = False) -> SafeString:
    def text(value) -> str:  # {{ value }}
        return render_value_in_context(value, context)

    user, request = context.get("user"), context.get("request")
    token = context.get("csrf_token")
    token = str(token) if token else ""
    csrf = (
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(token)}">'
        if token and token != "NOTPROVIDED"  # noqa: S105 (Django's "no token" marker)
        else ""
    )
    ritual_pk, title = slot.ritual.pk, text(slot.ritual.title)
    key = text(slot.key)
    occurrence = date_format(template_localtime(slot.occurrence_at), "c")
    local = template_localtime(slot.local_start)
    day = escape(date_format(local, "D j M, ")) if show_date else ""
    badge = ""
    if slot.kept:
        together = " together" if slot.together else ""
        badge = f'\n      <span class="badge badge--kept">Kept{together}</span>\n    '
    who = ""
    if slot.completions:
        rows = []
        for c in slot.completions:
            name = "You" if c.user_id == user.pk else text(c.author_name or "Your partner")
            note = f": “{text(c.note)}”" if c.note else ""
            rows.append(f"\n        <li>{name} marked it kept{note}</li>\n      ")
        who = f'\n    <ul class="slot__who">\n      {"".join(rows)}\n    </ul>\n  '
    form = ""
    back = escape(request.get_full_path()) if request is not None else ""
    mine = slot.kept_by(user)
    if mine:
        url = escape(reverse("ritual_unkeep", args=[ritual_pk]))
        body = '        <button type="submit" class="link-button">Undo my mark</button>\n'
        form = "\n      \n" + _form(url, key, occurrence, csrf, back, body) + "    "
    elif slot.local_start.date() <= context.get("today"):
        url = escape(reverse("ritual_keep", args=[ritual_pk]))
        body = (
            '        <div class="slot__fields">\n'
            '          <button type="submit" class="button button--small">We did it</button>\n'
            "          \n"
            '          <details class="slot__more">\n'
            "            <summary>Note, or just me?</summary>\n"
            '            <div class="slot__extra">\n'
            f'              <label for="note-{key}" class="visually-hidden">A note for {title}'
            " (optional)</label>\n"
            f'              <input id="note-{key}" type="text" name="note" maxlength="280" '
            'placeholder="A note (optional)">\n'
            '              <span class="check">\n'
            f'                <input id="together-{key}" type="checkbox" name="together" checked>\n'
            f'                <label for="together-{key}">Together</label>\n'
            "              </span>\n"
            "            </div>\n"
            "          </details>\n"
            "        </div>\n"
        )
        form = "\n      \n" + _form(url, key, occurrence, csrf, back, body) + "    "
    detail = escape(reverse("ritual_detail", args=[ritual_pk]))
    html = (
        f'\n<li class="slot{" slot--kept" if slot.kept else ""}" id="slot-{key}">\n'
        '  <div class="slot__main">\n'
        f'    <time class="slot__time" datetime="{occurrence}">{day}'
        f"{escape(time_format(local, 'H:i'))}</time>\n"
        f'    <a class="slot__title" href="{detail}">{title}</a>\n'
        f"    {badge}\n"
        "  </div>\n"
        f"  {who}\n"
        f"  \n    {form}\n  \n"
        "</li>\n"
    )
    return mark_safe(html)  # noqa: S308 (every value above is escaped)
