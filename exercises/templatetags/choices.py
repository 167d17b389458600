"""``{% choices field %}``: a group of radio buttons, written in Python.

The same markup as ``exercises/journal/_choices.html`` (a fieldset with its
legend, one labelled radio a line, errors tied to the group), which stays as
the reference: ``tests/exercises/test_choices_tag.py`` renders both and
compares. The love quiz has 30 such groups and the self-check a dozen; as
an include each costs a template, a loop and three lookups per radio.
"""

from __future__ import annotations

from django import template
from django.forms import BoundField
from django.template.base import render_value_in_context
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag(takes_context=True)
def choices(context: template.Context, field: BoundField) -> SafeString:
    def text(value) -> str:  # {{ value }}
        return render_value_in_context(value, context)

    errors = field.errors
    legend = context.get("legend") or field.label  # {{ legend|default:field.label }}
    described = f' aria-describedby="{text(field.auto_id)}_error"' if errors else ""
    parts = [
        f'\n<fieldset class="field choices{" field--error" if errors else ""}"{described}>',
        f"\n  <legend>{text(legend)}</legend>\n  ",
    ]
    for radio in field:
        parts.append(
            f'\n    <div class="field--checkbox">{text(radio.tag())}<label for='
            f'"{text(radio.id_for_label)}">{text(radio.choice_label)}</label></div>\n  '
        )
    parts.append("\n  ")
    if errors:
        items = "".join(f"<li>{text(error)}</li>" for error in errors)
        parts.append(
            f'\n    <ul class="errors" id="{text(field.auto_id)}_error">\n      {items}\n'
            "    </ul>\n  "
        )
    parts.append("\n</fieldset>\n")
    return mark_safe("".join(parts))  # noqa: S308 (every value above is escaped)
