"""Django's form renderer, with the widget templates every form repeats written in Python.

A widget is rendered through Django's templates: ``<input>``, ``<option>`` and
each radio button is a template with two or three includes, some 30-60 µs
apiece. The settings page's time-zone select has ~600 options, the exercises
page a dozen start forms, the love quiz 60 radio buttons: a few milliseconds
of CPU per page, paid by every request, for markup that is the same string
formatting each time.

``FastRenderer`` produces exactly what Django's built-in templates produce
(``tests/test_form_renderer.py`` renders every form of the app both ways and
compares), for the templates listed in ``FAST``, and hands any other template
to Django as before. A template that an installed app overrides is left to
Django too (checked once, when the renderer is made).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.forms.renderers import DjangoTemplates
from django.template import Context
from django.template.base import render_value_in_context
from django.utils.safestring import SafeData, mark_safe

WIDGETS = "django/forms/widgets/"
# A Context as the renderer's templates get one: autoescape on, l10n and tz as set.
_CONTEXT = Context(autoescape=True)


def _value(value) -> str:
    """``{{ value }}`` in a template: localized, as text, escaped unless safe."""
    return render_value_in_context(value, _CONTEXT)


def _formatted(value) -> str:
    """``{{ value|stringformat:'s' }}``."""
    if isinstance(value, tuple):
        value = str(value)
    try:
        text = "%s" % value  # noqa: UP031 (the filter's own formatting)
    except (ValueError, TypeError):
        text = ""
    if isinstance(value, SafeData):
        text = mark_safe(text)  # noqa: S308 (it was safe already: the filter keeps that)
    return _value(text)


def _attrs(attrs: dict) -> str:
    """``attrs.html``: `` name="value"`` per attribute, `` name`` for True, nothing for False."""
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        parts.append(
            f" {_value(name)}" if value is True else f' {_value(name)}="{_formatted(value)}"'
        )
    return "".join(parts)


def _input(widget: dict) -> str:
    value = widget["value"]
    shown = f' value="{_formatted(value)}"' if value is not None else ""
    return (
        f'<input type="{_value(widget["type"])}" name="{_value(widget["name"])}"{shown}'
        f"{_attrs(widget['attrs'])}>\n"
    )


def _input_option(widget: dict) -> str:
    if not widget.get("wrap_label"):
        return _input(widget) + "\n"
    label_id = widget["attrs"].get("id")
    opening = f'<label for="{_value(label_id)}">' if label_id else "<label>"
    return f"{opening}{_input(widget)} {_value(widget['label'])}</label>\n"


def _select_option(widget: dict) -> str:
    return (
        f'<option value="{_formatted(widget["value"])}"{_attrs(widget["attrs"])}>'
        f"{_value(widget['label'])}</option>\n"
    )


class FastRenderer(DjangoTemplates):
    """The default renderer, with ``FAST``'s templates rendered by the functions above."""

    def __init__(self) -> None:
        super().__init__()
        # A template an app overrides (APP_DIRS) is rendered from that template.
        builtin = Path(__import__("django.forms").forms.__file__).parent / "templates"
        self.fast: dict[str, Callable[[dict], str]] = {}
        for name, render in self._functions().items():
            origin = Path(self.engine.get_template(name).origin.name)
            if origin.is_relative_to(builtin):
                self.fast[name] = render

    def _functions(self) -> dict[str, Callable[[dict], str]]:
        plain_inputs = [
            *("text", "email", "password", "number", "url", "tel", "search", "hidden"),
            *("checkbox", "date", "datetime", "time", "color"),
        ]
        functions: dict[str, Callable[[dict], str]] = {
            f"{WIDGETS}{kind}.html": lambda w: _input(w) + "\n" for kind in plain_inputs
        }
        functions[f"{WIDGETS}input.html"] = _input
        functions[f"{WIDGETS}input_option.html"] = _input_option
        functions[f"{WIDGETS}radio_option.html"] = lambda w: _input_option(w) + "\n"
        functions[f"{WIDGETS}checkbox_option.html"] = lambda w: _input_option(w) + "\n"
        functions[f"{WIDGETS}select_option.html"] = _select_option
        functions[f"{WIDGETS}select.html"] = self._select
        functions[f"{WIDGETS}textarea.html"] = self._textarea
        functions[f"{WIDGETS}radio.html"] = lambda w: self._multiple_input(w) + "\n"
        functions[f"{WIDGETS}checkbox_select.html"] = lambda w: self._multiple_input(w) + "\n"
        return functions

    def render(self, template_name, context, request=None):
        render = self.fast.get(template_name)
        widget = context.get("widget") if render is not None and len(context) == 1 else None
        if widget is None:
            return super().render(template_name, context, request=request)
        return render(widget).strip()

    def _option(self, option: dict) -> str:
        """``{% include option.template_name with widget=option %}``."""
        render = self.fast.get(option["template_name"])
        if render is not None:
            return render(option)
        return self.get_template(option["template_name"]).render({"widget": option})

    def _select(self, widget: dict) -> str:
        parts = [f'<select name="{_value(widget["name"])}"{_attrs(widget["attrs"])}>']
        for group_name, options, _index in widget["optgroups"]:
            if group_name:
                parts.append(f'\n  <optgroup label="{_value(group_name)}">')
            for option in options:
                parts.append("\n  ")
                parts.append(self._option(option))
            if group_name:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>\n")
        return "".join(parts)

    def _textarea(self, widget: dict) -> str:
        value = widget["value"]
        return (
            f'<textarea name="{_value(widget["name"])}"{_attrs(widget["attrs"])}>\n'
            f"{_value(value) if value else ''}</textarea>\n"
        )

    def _multiple_input(self, widget: dict) -> str:
        attrs = widget["attrs"]
        box = attrs.get("id")
        parts = ["<div"]
        if box:
            parts.append(f' id="{_value(box)}"')
        if attrs.get("class"):
            parts.append(f' class="{_value(attrs["class"])}"')
        parts.append(">")
        for group, options, _index in widget["optgroups"]:
            if group:
                parts.append(f"\n  <div><label>{_value(group)}</label>")
            for option in options:
                parts.append("<div>\n    ")
                parts.append(self._option(option))
                parts.append("</div>")
            if group:
                parts.append("\n  </div>")
        parts.append("\n</div>")
        return "".join(parts)
