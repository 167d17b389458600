"""The tabs and icons drawn once per process (``home.templatetags.site``) are
what their templates draw fresh, and the right tab is current on every kind of page."""

from __future__ import annotations

import re

import pytest
from django.template import Context, Template
from django.template.loader import get_template
from django.test import RequestFactory, override_settings
from django.urls import reverse

from home.templatetags import site

ICONS = re.findall(r'name == "([a-z]+)"', get_template("includes/icon.html").template.source)


def draw(template: str, path: str = "/") -> str:
    request = RequestFactory().get(path)
    return Template(template).render(Context({"request": request}))


@pytest.mark.parametrize(
    ("path", "marks"),
    [
        ("/", ("page", "", "", "", "")),
        ("/rituals/", ("", "page", "", "", "")),
        ("/rituals/12/edit/", ("", "true", "", "", "")),
        ("/exercises/", ("", "", "page", "", "")),
        ("/exercises/s/3/", ("", "", "true", "", "")),
        ("/rhythm/", ("", "", "", "page", "")),
        ("/accounts/settings/", ("", "", "", "", "page")),
        ("/accounts/email/", ("", "", "", "", "true")),
        ("/export/", ("", "", "", "", "")),
        ("/ritualsx/", ("", "", "", "", "")),
    ],
)
def test_the_current_tab_follows_the_path(path, marks):
    assert reverse("rhythm") == "/rhythm/"
    assert site.current_marks(path) == marks
    html = draw("{% tabs %}", path)
    assert html.count('aria-current="page"') == marks.count("page")
    assert html.count('aria-current="true"') == marks.count("true")


@pytest.mark.parametrize("path", ["/", "/rituals/3/", "/exercises/", "/accounts/settings/"])
def test_kept_tabs_are_a_fresh_render(path):
    site._kept.clear()
    first, kept = draw("{% tabs %}", path), draw("{% tabs %}", path)
    assert site._kept, "nothing was kept outside DEBUG"
    with override_settings(DEBUG=True):
        fresh = draw("{% tabs %}", path)
    assert first == kept == fresh
    for _, route, words, _ in site.TABS:
        assert f'href="{reverse(route)}"' in fresh and f"<span>{words}</span>" in fresh


@pytest.mark.parametrize("name", ICONS)
def test_a_kept_icon_is_its_include(name):
    include = draw(f'{{% include "includes/icon.html" with name="{name}" %}}')
    assert "<path" in include or "<circle" in include
    assert draw(f'{{% icon "{name}" %}}') == draw(f'{{% icon "{name}" %}}') == include
