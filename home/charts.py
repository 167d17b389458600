"""Small charts drawn on the server as SVG: stacked columns over time, and meters.

The SVG is decoration for the eye (``aria-hidden``): every chart also comes
with a table of the same numbers, rendered by the template from the same
object, so the two can't disagree. Nothing here sets a colour: marks carry
classes (``rhythm-mark--solid``, ``rhythm-mark--hatched``) that
``static/css/rhythm.css`` colours for light and dark schemes, and the
second series is hatched as well as coloured, so no meaning rests on colour
alone. Each ``<rect>`` carries its value (``data-value``) for tests.

Sizes are in viewBox units: the SVG scales to its container's width, so it
never forces a phone to scroll sideways.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

SOLID, HATCHED = "solid", "hatched"
WIDTH, HEIGHT = 640, 180
BAR_SHARE = 0.68  # of each column's slot; the rest is air between bars
METER_WIDTH, METER_HEIGHT = 300, 24


@dataclass(frozen=True)
class Series:
    label: str
    style: str = SOLID


@dataclass(frozen=True)
class Bar:
    label: str  # the table's row header, e.g. "Week of 2 June"
    values: tuple[int, ...]  # one per series, stacked from the bottom

    @property
    def total(self) -> int:
        return sum(self.values)


def nice_top(largest: float) -> tuple[int, int]:
    """The top of the scale and the step between grid lines, both whole numbers.

    1, 2 or 5 times a power of ten per step, at most five steps: a scale a
    person reads without thinking ("up to 10", "up to 40").
    """
    largest = max(largest, 1)
    step = 1
    for magnitude in (1, 10, 100, 1000, 10000):
        for unit in (1, 2, 5):
            step = unit * magnitude
            if largest / step <= 5:
                return math.ceil(largest / step) * step, step
    return math.ceil(largest / step) * step, step


def _hatch(pattern_id: str) -> SafeString:
    return format_html(
        '<pattern id="{}" width="6" height="6" patternUnits="userSpaceOnUse"'
        ' patternTransform="rotate(45)">'
        '<rect class="rhythm-hatch-ground" width="6" height="6"></rect>'
        '<rect class="rhythm-hatch-line" width="3" height="6"></rect></pattern>',
        pattern_id,
    )


def _rect(x: float, y: float, width: float, height: float, style: str, pattern: str, data=""):
    """One mark. Every value is a number or one of our own names: plain
    formatting is safe here, and this runs a couple of hundred times a page."""
    fill = f' fill="url(#{pattern})"' if style == HATCHED else ""
    return (
        f'<rect class="rhythm-mark rhythm-mark--{style}" x="{x:.2f}" y="{y:.2f}"'
        f' width="{width:.2f}" height="{height:.2f}"{fill}{data}></rect>'
    )


@dataclass
class ColumnChart:
    """Stacked columns, one per week or month, oldest on the left."""

    key: str  # unique on the page: names the SVG's pattern
    series: tuple[Series, ...]
    bars: list[Bar]
    # A soft reference band from this value up (e.g. "about five a week"):
    # drawn behind the columns, never as a line to beat.
    band_from: int | None = None
    axis: tuple[str, ...] = field(default_factory=tuple)  # a few labels under the chart
    # A natural top, e.g. seven days a week: a line for each, up to it.
    ceiling: int | None = None

    @property
    def largest(self) -> int:
        return max((bar.total for bar in self.bars), default=0)

    @cached_property
    def scale(self) -> tuple[int, int]:
        """The top of the scale and the step between its grid lines."""
        if self.ceiling is not None and self.largest <= self.ceiling:
            return self.ceiling, 1 if self.ceiling <= 7 else nice_top(self.ceiling)[1]
        # Above the band's start, so the band always shows, even in quiet weeks.
        band_top = self.band_from + 1 if self.band_from is not None else 0
        return nice_top(max(self.largest, band_top))

    @property
    def top(self) -> int:
        return self.scale[0]

    @property
    def totals(self) -> tuple[int, ...]:
        return tuple(sum(bar.values[i] for bar in self.bars) for i in range(len(self.series)))

    @property
    def total(self) -> int:
        return sum(self.totals)

    def height_of(self, value: float) -> float:
        return HEIGHT * value / self.top

    def svg(self) -> SafeString:
        top, step = self.scale
        pattern = f"{self.key}-hatch"
        parts = [format_html("<defs>{}</defs>", _hatch(pattern))]
        if self.band_from is not None and self.band_from < top:
            y = HEIGHT - self.height_of(self.band_from)
            parts.append(
                format_html(
                    '<rect class="rhythm-band" x="0" y="0" width="{}" height="{}"></rect>'
                    '<line class="rhythm-band-edge" x1="0" x2="{}" y1="{}" y2="{}"></line>',
                    WIDTH,
                    f"{y:.2f}",
                    WIDTH,
                    f"{y:.2f}",
                    f"{y:.2f}",
                )
            )
        for value in range(step, top + 1, step):
            y = HEIGHT - self.height_of(value)
            parts.append(
                format_html(
                    '<line class="rhythm-grid" x1="0" x2="{}" y1="{}" y2="{}"></line>',
                    WIDTH,
                    f"{y:.2f}",
                    f"{y:.2f}",
                )
            )
        slot = WIDTH / max(len(self.bars), 1)
        width = slot * BAR_SHARE
        for index, bar in enumerate(self.bars):
            x = index * slot + (slot - width) / 2
            base = HEIGHT
            for series_index, value in enumerate(bar.values):
                if value <= 0:
                    continue
                height = self.height_of(value)
                base -= height
                data = f' data-bar="{index}" data-series="{series_index}" data-value="{value}"'
                style = self.series[series_index].style
                parts.append(_rect(x, base, width, height, style, pattern, data))
        parts.append(
            format_html(
                '<line class="rhythm-baseline" x1="0" x2="{}" y1="{}" y2="{}"></line>',
                WIDTH,
                HEIGHT,
                HEIGHT,
            )
        )
        return format_html(
            '<svg class="rhythm-svg" viewBox="0 0 {} {}" aria-hidden="true" focusable="false">'
            "{}</svg>",
            WIDTH,
            HEIGHT + 1,
            mark_safe("".join(parts)),  # noqa: S308 (parts built by format_html or from numbers)
        )


def meter_svg(key: str, earlier: int, lately: int, capacity: int, scale: int) -> SafeString:
    """One category's share explored: earlier (solid), lately (hatched), the rest an empty track.

    ``scale`` is the largest capacity on the chart, so a bigger category
    shows a longer track.
    """
    pattern = f"{key}-hatch"
    unit = METER_WIDTH / max(scale, 1)
    track = capacity * unit
    parts = [
        format_html("<defs>{}</defs>", _hatch(pattern)),
        format_html(
            '<rect class="rhythm-track" x="0.75" y="0.75" width="{}" height="{}" rx="3"></rect>',
            f"{max(track - 1.5, 0):.2f}",
            METER_HEIGHT - 1.5,
        ),
    ]
    x = 0.0
    for value, style, index in ((earlier, SOLID, 0), (lately, HATCHED, 1)):
        if value > 0:
            data = f' data-series="{index}" data-value="{value}"'
            parts.append(_rect(x, 0, value * unit, METER_HEIGHT, style, pattern, data))
            x += value * unit
    return format_html(
        '<svg class="rhythm-svg rhythm-svg--meter" viewBox="0 0 {} {}" aria-hidden="true"'
        ' focusable="false">{}</svg>',
        METER_WIDTH,
        METER_HEIGHT,
        mark_safe("".join(parts)),  # noqa: S308 (parts built by format_html or from numbers)
    )


def swatch_svg(key: str, style: str) -> SafeString:
    """The legend's sample of a series, drawn like its marks."""
    pattern = f"{key}-swatch-hatch"
    return format_html(
        '<svg class="rhythm-swatch" viewBox="0 0 18 18" width="18" height="18"'
        ' aria-hidden="true" focusable="false"><defs>{}</defs>{}</svg>',
        _hatch(pattern),
        mark_safe(_rect(0, 0, 18, 18, style, pattern)),  # noqa: S308 (numbers and our names)
    )
