"""The time-zone select writes its ~600 options once per process (accounts.forms.ZoneSelect):
what it renders must be what Django's own Select renders, for every kind of value."""

from __future__ import annotations

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates

from accounts.forms import ProfileForm, ZoneSelect, zone_choices
from config.forms import FastRenderer


@pytest.mark.parametrize("renderer", [FastRenderer(), DjangoTemplates()], ids=["fast", "django"])
@pytest.mark.parametrize(
    "value", [None, "", "UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "Nowhere/<x>"]
)
def test_the_select_is_djangos_select(renderer, value):
    attrs = {"data-zone-picker": "", "data-x": True, "data-no": False}
    mine = ZoneSelect(attrs=attrs, choices=zone_choices())
    theirs = forms.Select(attrs=attrs, choices=zone_choices())
    extra = {"id": "id_time_zone", "required": True}
    assert mine.render("time_zone", value, extra, renderer) == theirs.render(
        "time_zone", value, extra, renderer
    )
    assert mine.render("time_zone", value, extra, renderer).count("<option") > 300


@pytest.mark.parametrize(
    "stored", ["Europe/Oslo", "US/Pacific", "Etc/GMT+5"], ids=["zone", "alias", "legacy"]
)
def test_the_profile_form_shows_each_stored_zone_selected(alice, stored):
    alice.time_zone = stored
    form = ProfileForm(instance=alice)
    html = str(form["time_zone"])
    plain = form["time_zone"].field.widget
    theirs = forms.Select(attrs=plain.attrs, choices=form["time_zone"].field.choices)
    attrs = form["time_zone"].build_widget_attrs({}) | {"id": "id_time_zone"}  # as_widget's order
    expected = theirs.render("time_zone", form["time_zone"].field.prepare_value(stored), attrs)
    assert html == expected
    assert html.count(" selected>") == 1
