"""``{% chart_table %}``: a rhythm chart's numbers as a table, written in Python.

The same markup as ``rhythm/_table.html`` (kept as the reference:
``tests/home/test_chart_table.py`` renders both and compares), from the
``chart``, ``summary``, ``caption`` and ``first_column`` of the context. The
rhythm page has one table per ritual and four more, a dozen rows each; as a
template each row costs two loops and a handful of lookups.
"""

from __future__ import annotations

from django import template
from django.conf import settings
from django.template.base import render_value_in_context
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.simple_tag(takes_context=True)
def chart_table(context: template.Context) -> SafeString:
    def text(value) -> str:  # {{ value }}
        if type(value) is int and not settings.USE_THOUSAND_SEPARATOR:
            # A count: what localizing it writes, without its four lookups of
            # the language's formats (most of a table's cost).
            return str(value)
        return render_value_in_context(value, context)

    chart = context.get("chart")
    key = text(chart.key)
    several = len(chart.series) > 1
    heads = "".join(f'<th scope="col">{text(series.label)}</th>' for series in chart.series)
    rows = []
    for bar in chart.bars:
        cells = "".join(f"<td>{text(value)}</td>" for value in bar.values)
        total = f"<td>{text(bar.total)}</td>" if several else ""
        rows.append(
            f'\n          <tr>\n            <th scope="row">{text(bar.label)}</th>\n'
            f"            {cells}\n            {total}\n          </tr>\n        "
        )
    html = (
        '\n<details class="rhythm-details">\n'
        f"  <summary>{text(context.get('summary', ''))}</summary>\n"
        f'  <div class="rhythm-table" role="region" aria-labelledby="{key}-caption" tabindex="0">\n'
        "    <table>\n"
        f'      <caption id="{key}-caption">{text(context.get("caption", ""))}</caption>\n'
        "      <thead>\n        <tr>\n"
        f'          <th scope="col">{text(context.get("first_column", ""))}</th>\n'
        f"          {heads}\n"
        f"          {'<th scope="col">In all</th>' if several else ''}\n"
        "        </tr>\n      </thead>\n      <tbody>\n        "
        f"{''.join(rows)}\n      </tbody>\n    </table>\n  </div>\n</details>\n"
    )
    return mark_safe(html)  # noqa: S308 (every value above is escaped)
