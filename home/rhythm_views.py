"""The "Our rhythm" page: the couple's last months drawn as charts, each with its table.

The numbers come from ``home.rhythm`` (one aggregate query per chart,
over a capped window), the drawings from ``home.charts``; this module
only puts them side by side with their labels.
"""

from __future__ import annotations

from functools import lru_cache

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import formats, timezone
from django.utils.functional import SimpleLazyObject
from django.utils.translation import get_language
from django.views.decorators.http import require_safe

from couples.access import couple_required
from exercises import daily
from exercises.kinds import love_maps
from home import rhythm
from home.charts import HATCHED, SOLID, Bar, ColumnChart, Series, meter_svg, swatch_svg

# "About five a week": a nod to the five-to-one finding, shown as a soft
# band behind the appreciations, never as a line to reach.
APPRECIATION_BAND = 5


def date_format(day, format: str) -> str:
    """Django's ``date_format``, each label worked out once per process: the
    rhythm writes the same few dozen weeks and months for every couple."""
    return _date_text(day, format, get_language())


@lru_cache(maxsize=2048)
def _date_text(day, format: str, language: str | None) -> str:
    return formats.date_format(day, format)


def _week_labels(window: rhythm.Window) -> list[str]:
    labels = [f"Week of {date_format(week, 'j M Y')}" for week in window.weeks]
    labels[-1] += " (this week)"
    return labels


def _month_labels(window: rhythm.Window) -> list[str]:
    labels = [date_format(month, "F Y") for month in window.months]
    labels[-1] += " (this month)"
    return labels


def _week_axis(window: rhythm.Window) -> tuple[str, ...]:
    middle = window.weeks[len(window.weeks) // 2]
    return (
        date_format(window.weeks[0], "j M"),
        date_format(middle, "j M"),
        "This week",
    )


def _month_axis(window: rhythm.Window) -> tuple[str, ...]:
    middle = window.months[len(window.months) // 2]
    return (date_format(window.months[0], "M Y"), date_format(middle, "M Y"), "This month")


def _legend(key: str, series: tuple[Series, ...]) -> list[dict]:
    return [
        {"label": s.label, "swatch": swatch_svg(f"{key}-{index}", s.style)}
        for index, s in enumerate(series)
    ]


RITUAL_SERIES = (Series("Kept together", SOLID), Series("Kept by one of you", HATCHED))


def ritual_charts(rituals, rows, window: rhythm.Window, labels: list[str]) -> list[dict]:
    charts = []
    for item in rhythm.rituals_by_week(rituals, rows, window):
        bars = [
            Bar(label, (kept.together, kept.alone))
            for label, kept in zip(labels, item.weeks, strict=True)
        ]
        key = f"ritual-{item.ritual.pk}"
        chart = ColumnChart(key, RITUAL_SERIES, bars, axis=_week_axis(window))
        charts.append({"rhythm": item, "chart": chart})
    return charts


def appreciation_chart(rows, window: rhythm.Window, labels: list[str], partner) -> ColumnChart:
    weeks = rhythm.appreciations_by_week(rows, window)
    if partner is None:
        series: tuple[Series, ...] = (Series("Written by you", SOLID),)
        bars = [Bar(label, (noticed.by_you,)) for label, noticed in zip(labels, weeks, strict=True)]
    else:
        series = (
            Series("Written by you", SOLID),
            Series(f"Shared with you by {partner.get_short_name()}", HATCHED),
        )
        bars = [
            Bar(label, (noticed.by_you, noticed.by_partner))
            for label, noticed in zip(labels, weeks, strict=True)
        ]
    return ColumnChart(
        "appreciations", series, bars, band_from=APPRECIATION_BAND, axis=_week_axis(window)
    )


def conversation_chart(
    talks: rhythm.Conversations, window: rhythm.Window, labels: list[str]
) -> ColumnChart:
    bars = [Bar(label, (count,)) for label, count in zip(labels, talks.weeks, strict=True)]
    return ColumnChart(
        "daily",
        (Series("Days you both answered", SOLID),),
        bars,
        axis=_week_axis(window),
        ceiling=7,
    )


def exercise_chart(counts: list[int], window: rhythm.Window) -> ColumnChart:
    bars = [
        Bar(label, (count,)) for label, count in zip(_month_labels(window), counts, strict=True)
    ]
    return ColumnChart(
        "exercises", (Series("Exercises finished", SOLID),), bars, axis=_month_axis(window)
    )


def love_map_areas(rows, window: rhythm.Window) -> list[dict]:
    deck: dict[str, int] = {}
    for question in love_maps.questions().values():
        deck[question["category"]] = deck.get(question["category"], 0) + 1
    areas = rhythm.love_map_fill(rows, love_maps.categories(), deck, window.weeks_start)
    scale = max((area.questions for area in areas), default=1)
    return [
        {
            "area": area,
            "svg": meter_svg(f"map-{area.key}", area.earlier, area.lately, area.questions, scale),
        }
        for area in areas
    ]


def kept_part(couple, window: rhythm.Window, weeks: list[str]) -> dict:
    """The rituals' charts: what a keep changes (``RITUALS``)."""
    rituals = list(couple.rituals.order_by("title", "pk"))
    kept_rows = rhythm.ritual_rows(rituals, window)
    return {
        "rituals": ritual_charts(rituals, kept_rows, window, weeks),
        "has_rituals": bool(rituals),
    }


def journal_part(
    couple, viewer, partner, window: rhythm.Window, weeks: list[str], couple_today
) -> dict:
    """What the two wrote and did: appreciations, the daily question, the
    exercises and the love map (``JOURNAL``)."""
    member_ids = [viewer.pk] + ([partner.pk] if partner else [])
    noticed_rows = rhythm.appreciation_rows(couple, viewer, member_ids, window)
    both_days = rhythm.daily_rows(couple, viewer, member_ids, window) if partner else set()
    talks = rhythm.conversations_by_week(both_days, window, couple_today)
    exercises = rhythm.exercises_by_month(rhythm.exercise_rows(couple, window), window)
    areas = love_map_areas(rhythm.love_map_rows(couple, viewer, member_ids), window)
    appreciations = appreciation_chart(noticed_rows, window, weeks, partner)
    talk_chart = conversation_chart(talks, window, weeks)
    return {
        "appreciations": appreciations,
        "appreciation_legend": _legend("appreciations", appreciations.series),
        "talks": talks,
        "talk_chart": talk_chart,
        "talk_legend": _legend("daily", talk_chart.series),
        "exercises": exercise_chart(exercises, window),
        "areas": areas,
        "explored": sum(item["area"].explored for item in areas),
        "explored_lately": sum(item["area"].lately for item in areas),
    }


@couple_required
@require_safe
def rhythm_page(request: HttpRequest) -> HttpResponse:
    """Two cached regions (``{% fragment %}``) under the page kept whole: a keep
    redraws the rituals' charts, not what the two wrote, and the other way round."""
    couple, viewer = request.couple, request.user
    partner = request.partner
    window = rhythm.window_for(timezone.localdate(timezone.now(), viewer.zone), viewer.zone)
    weeks = _week_labels(window)  # the same rows for every weekly chart
    since = date_format(window.first_day, "j M")
    couple_today = daily.couple_today(couple)  # the journal region's key, and its runs
    ctx = {
        "window": window,
        "week_count": len(window.weeks),
        "month_count": len(window.months),
        "couple_today": couple_today,
        "partner": partner,
        "partner_name": partner.get_short_name() if partner else "your partner",
        "ritual_legend": _legend("rituals", RITUAL_SERIES),
        "appreciation_band": APPRECIATION_BAND,
        "map_legend": _legend(
            "map",
            (Series(f"Explored before {since}", SOLID), Series(f"Explored since {since}", HATCHED)),
        ),
        # Read only when their region is not in the cache.
        "kept": SimpleLazyObject(lambda: kept_part(couple, window, weeks)),
        "journal": SimpleLazyObject(
            lambda: journal_part(couple, viewer, partner, window, weeks, couple_today)
        ),
    }
    return render(request, "rhythm/page.html", ctx)
