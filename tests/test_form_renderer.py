"""The fast form renderer (config/forms.py) writes exactly what Django's templates write.

Every member page is rendered with it and with Django's own renderer and the
two pages compared (only the per-request CSRF token and CSP nonce differ), so
a form added to any page is covered; then widgets the pages may not show yet
(groups, escaping, errors, every input type) are compared one by one.
"""

from __future__ import annotations

import re

import pytest
import time_machine
from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils import timezone
from django.utils.safestring import mark_safe

from config.forms import FastRenderer
from tests.conftest import forget_cached_pages, logged_in
from tests.member_pages import DOWNLOADS, member_pages
from tests.test_access_matrix import MATRIX, url_for
from tests.test_access_matrix import space as space  # a fixture

DJANGO = "django.forms.renderers.DjangoTemplates"
PER_REQUEST = [
    (re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]+'), r"\1TOKEN"),
    (re.compile(r'("X-CSRFToken": ")[^"]+'), r"\1TOKEN"),
    (re.compile(r'nonce="[^"]+"'), 'nonce="NONCE"'),
    (re.compile(r'(name="request_key" value=")[^"]+'), r"\1KEY"),  # couples/once.py
]


def page(client, path: str) -> str:
    forget_cached_pages()  # rendered now, with the renderer in force
    response = client.get(path)
    assert response.status_code == 200, path
    html = response.content.decode()
    for pattern, replacement in PER_REQUEST:
        html = pattern.sub(replacement, html)
    return html


def test_the_project_uses_the_fast_renderer(settings):
    assert settings.FORM_RENDERER == "config.forms.FastRenderer"
    assert "django/forms/widgets/select.html" in FastRenderer().fast


@pytest.mark.parametrize("name", sorted(member_pages() - set(DOWNLOADS)))
def test_every_member_page_is_the_same_as_with_djangos_templates(alice, space, settings, name):
    client = logged_in(alice)
    path = url_for(name, MATRIX[name], space)
    # One instant for both: the calendar's signed address carries the second it was signed.
    with time_machine.travel(timezone.now(), tick=False):
        fast = page(client, path)
        settings.FORM_RENDERER = DJANGO
        slow = page(client, path)
    assert fast == slow
    if "<form" in slow and name != "leave":
        assert "<input" in slow or "<select" in slow or "<textarea" in slow  # a real comparison


class Everything(forms.Form):
    text = forms.CharField(label="A <b>name</b>", help_text="help & more", max_length=5)
    optional = forms.CharField(required=False, widget=forms.TextInput(attrs={"data-x": True}))
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email", "x": False}))
    password = forms.CharField(widget=forms.PasswordInput(render_value=True))
    number = forms.DecimalField(initial=1.5)
    when = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    hidden = forms.CharField(widget=forms.HiddenInput, initial=mark_safe("<i>safe</i>"))
    agree = forms.BooleanField(required=False, initial=True)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), initial="a < b & c")
    empty_notes = forms.CharField(widget=forms.Textarea, required=False)
    pick = forms.ChoiceField(choices=[("", "—"), ("a", "A & a"), (1, 1)])
    grouped = forms.ChoiceField(
        choices=[("UTC", "UTC"), ("Europe", [("Europe/Berlin", "Berlin")]), ("X", [("x", "<x>")])],
        initial="Europe/Berlin",
    )
    many = forms.MultipleChoiceField(
        choices=[("a", "A"), ("b", "B")], widget=forms.SelectMultiple, initial=["b"]
    )
    radio = forms.ChoiceField(
        choices=[("one", "One"), ("two", "Two & more")], widget=forms.RadioSelect, initial="two"
    )
    radio_groups = forms.ChoiceField(
        choices=[("G", [("g1", "G1")]), ("h", "H")], widget=forms.RadioSelect
    )
    boxes = forms.MultipleChoiceField(
        choices=[(0, "Mon"), (1, "Tue")], widget=forms.CheckboxSelectMultiple, required=False
    )


@pytest.mark.parametrize(
    "data",
    [None, {"text": "far too long", "radio": "nope", "boxes": ["1"], "notes": "x\n<y>"}],
    ids=["unbound", "bound with errors"],
)
def test_every_widget_renders_as_with_djangos_templates(data):
    fast = Everything(data, renderer=FastRenderer(), auto_id="id_%s")
    slow = Everything(data, renderer=DjangoTemplates(), auto_id="id_%s")
    assert fast.is_bound == slow.is_bound
    for name in fast.fields:
        assert str(fast[name]) == str(slow[name]), name
        for mine, theirs in zip(fast[name].subwidgets, slow[name].subwidgets, strict=True):
            assert mine.tag() == theirs.tag(), name
            assert str(mine) == str(theirs), name
    assert fast.render() == slow.render()
