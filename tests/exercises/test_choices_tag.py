"""``{% choices field %}`` writes exactly what ``exercises/journal/_choices.html`` writes."""

from __future__ import annotations

import pytest
from django import forms
from django.template import Context, Template


class Quiz(forms.Form):
    plain = forms.ChoiceField(
        label="Which do you prefer?",
        choices=[("a", "Words"), ("b", "Time & <attention>")],
        widget=forms.RadioSelect,
    )
    numbered = forms.TypedChoiceField(
        label="How close do you feel?",
        choices=[(n, n) for n in range(1, 6)],
        coerce=int,
        widget=forms.RadioSelect,
        initial=3,
    )
    optional = forms.ChoiceField(
        required=False, choices=[("x", "X")], widget=forms.RadioSelect, label=""
    )


INCLUDED = Template('{% include "exercises/journal/_choices.html" %}')
TAGGED = Template("{% load choices %}{% choices field %}")


@pytest.mark.parametrize(
    "data",
    [None, {"plain": "nope"}, {"plain": "b", "numbered": "4", "optional": "x"}],
    ids=["unbound", "errors", "answered"],
)
@pytest.mark.parametrize("legend", [None, "Our <own> legend"])
def test_the_tag_is_the_include(data, legend):
    form = Quiz(data)
    for field in form:
        context = {"field": field} | ({"legend": legend} if legend else {})
        included = INCLUDED.render(Context(context))
        assert TAGGED.render(Context(context)) == included
        assert included.count('type="radio"') == len(field.field.choices)
    if data and "numbered" not in data:
        assert form.errors  # the error list is compared too
