"""``{% chart_table %}`` writes exactly what ``rhythm/_table.html`` writes."""

from __future__ import annotations

import pytest
from django.template import Context, Template

from home.charts import HATCHED, Bar, ColumnChart, Series

INCLUDED = Template('{% include "rhythm/_table.html" %}')
TAGGED = Template("{% load chart_table %}{% chart_table %}")
BARS = [Bar("Week of 2 June", (3, 1)), Bar("Week of <9> & June", (0, 12)), Bar("Jul", (1500, 0))]


@pytest.mark.parametrize(
    "series",
    [(Series("Kept"),), (Series("Kept together"), Series("By one of you & <b>", HATCHED))],
    ids=["one series", "two series"],
)
@pytest.mark.parametrize(
    "names",
    [{"summary": "Week by week", "caption": "Walk <&>", "first_column": "Week"}, {}],
    ids=["named", "unnamed"],
)
def test_the_tag_is_the_include(series, names):
    bars = [Bar(bar.label, bar.values[: len(series)]) for bar in BARS]
    chart = ColumnChart("walk-1", series, bars)
    context = {"chart": chart} | names
    included = INCLUDED.render(Context(context))
    assert TAGGED.render(Context(context)) == included
    assert included.count("<tr>") == len(bars) + 1
