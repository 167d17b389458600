"""The calendar feed gives exactly Tend's own occurrences, for every schedule the
ritual form can make, in every zone whose offset changes.

Each example saves one ritual (rule, zone, start, end as the form offers
them), downloads the couple's feed and expands it with an independent RFC 5545
library (tests/rituals/ical.py). It must give the same instants as the
ritual's own schedule, twice: reading the zone by its name, and reading it
from the feed's VTIMEZONE only. Start times are often drawn inside a spring
gap or an autumn repeat, on a day the rule hits, and one window lies past 2038,
where the zone's binary data ends and only its rule goes on.

Deterministic (derandomized, no example database), so CI runs the same
examples every time; ``TEND_FEED_EXAMPLES=2000`` digs deeper locally.
"""

from __future__ import annotations

import calendar as months
import os
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from rituals.forms import EARLIEST, LATEST, RitualForm
from rituals.models import Ritual
from rituals.recurrence import Pattern
from tests.factories import make_ritual
from tests.rituals import ical

FORM = RitualForm.base_fields
# The form groups its zones by region: (region, [(name, label), …]).
ZONES = [
    name
    for value, label in FORM["time_zone"].choices
    for name in ([choice for choice, _ in label] if isinstance(label, list | tuple) else [value])
]


def _offset_changes(zone: ZoneInfo, start: datetime, end: datetime, step: timedelta):
    """UTC instants (to the second) where the zone's offset changes in [start, end)."""
    found = []
    here, offset = start, start.astimezone(zone).utcoffset()
    while here < end:
        there = here + step
        if there.astimezone(zone).utcoffset() != offset:
            low, high = here, there  # the change is in (low, high]
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if middle.astimezone(zone).utcoffset() == offset:
                    low = middle
                else:
                    high = middle
            found.append(high)
            offset = high.astimezone(zone).utcoffset()
        here = there
    return found


def _has_changes(name: str) -> bool:
    zone = ZoneInfo(name)
    start = datetime(EARLIEST.year, 1, 1, tzinfo=UTC)
    # Zone files list changes up to 2037; later ones come from a yearly rule,
    # which shows before 2041 too.
    first = start.astimezone(zone).utcoffset()
    here = start
    while here.year < 2041:
        here += timedelta(days=7)
        if here.astimezone(zone).utcoffset() != first:
            return True
    return False


# Every zone the form offers whose UTC offset changes from 2000 on (daylight
# saving time, or a new standard offset): each change makes a gap or a repeat.
# About 260 of the 419 canonical zones with this machine's tzdata 2025b.
CHANGING_ZONES = [name for name in ZONES if _has_changes(name)]


@cache
def changes_in(name: str, year: int) -> list[datetime]:
    zone = ZoneInfo(name)
    start = datetime(year, 1, 1, tzinfo=UTC) - timedelta(days=1)
    return _offset_changes(zone, start, start + timedelta(days=367), timedelta(days=1))


@cache
def years_with_changes(name: str) -> list[int]:
    zone = ZoneInfo(name)
    start = datetime(EARLIEST.year, 1, 1, tzinfo=UTC)
    found = _offset_changes(zone, start, datetime(2041, 1, 1, tzinfo=UTC), timedelta(days=7))
    years = sorted({at.year for at in found})
    if years[-1] == 2040:  # still changing after the listed changes: a yearly rule
        years += range(2041, LATEST.year + 1)
    return years


def codes(field: str) -> list[str]:
    return [value for value, _ in FORM[field].choices]


def weekday_code(day: date) -> str:
    return codes("weekdays")[day.weekday()]


@st.composite
def patterns(draw, day: date) -> tuple[Pattern, int]:
    """A rule the form can build, often one that falls on ``day``; and how many
    whole periods before ``day`` it may start without losing that."""
    frequency = draw(st.sampled_from(codes("frequency")))
    aim = draw(st.booleans())
    if frequency == "daily":
        return Pattern("daily"), 1
    if frequency == "weekly":
        days = set(draw(st.sets(st.sampled_from(codes("weekdays")), min_size=1)))
        if aim:
            days.add(weekday_code(day))
        interval = draw(st.integers(FORM["interval"].min_value, FORM["interval"].max_value))
        return Pattern("weekly", tuple(sorted(days)), interval=interval), 7 * interval
    if frequency == "monthly_day":
        low, high = FORM["month_day"].min_value, FORM["month_day"].max_value
        month_day = day.day if aim else draw(st.integers(low, high))
        return Pattern("monthly_day", month_day=month_day), 28
    nth = draw(st.sampled_from([int(n) for n in codes("nth")]))
    weekday = draw(st.sampled_from(codes("nth_weekday")))
    if aim:
        weekday = weekday_code(day)
        nth_in_month = (day.day - 1) // 7 + 1
        is_last = day.day + 7 > months.monthrange(day.year, day.month)[1]
        options = [nth_in_month] if nth_in_month <= 4 else []
        nth = draw(st.sampled_from([*options, -1] if is_last else options))
    return Pattern("monthly_weekday", nth=nth, nth_weekday=weekday), 28


@st.composite
def schedules(draw) -> dict:
    """A ritual's schedule fields, placed near one of its zone's changes."""
    zone_name = draw(st.sampled_from(CHANGING_ZONES))
    zone = ZoneInfo(zone_name)
    year = draw(st.sampled_from(years_with_changes(zone_name)))
    change = draw(st.sampled_from(changes_in(zone_name, year)))
    before = (change - timedelta(seconds=1)).astimezone(zone).utcoffset()
    after = change.astimezone(zone).utcoffset()
    # The wall-clock times the change skips (spring) or repeats (autumn).
    low, high = sorted(
        [(change + before).replace(tzinfo=None), (change + after).replace(tzinfo=None)]
    )
    minutes = int((high - low).total_seconds() // 60)
    if minutes and draw(st.booleans()):
        wall = low + timedelta(minutes=draw(st.integers(0, minutes - 1)))
    else:
        wall = datetime.combine(
            low.date(), time(draw(st.integers(0, 23)), draw(st.integers(0, 59)))
        )
    wall = wall.replace(second=0, microsecond=0)
    pattern, period = draw(patterns(wall.date()))
    start_date = wall.date() - timedelta(days=period * draw(st.integers(0, 3)))
    start_date = max(start_date, EARLIEST)
    end_date = None
    if draw(st.booleans()):
        end_date = min(start_date + timedelta(days=draw(st.integers(0, 3 * 366))), LATEST)
    return {
        "rrule": pattern.to_rrule(),
        "time_zone": zone_name,
        "start_date": start_date,
        "start_time": wall.time(),
        "end_date": end_date,
    }


FEED_PROFILE = settings(
    max_examples=int(os.environ.get("TEND_FEED_EXAMPLES", "300")),
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# The example: 02:30 in New York, first on the day clocks spring forward.
NEW_YORK_GAP = {
    "rrule": "FREQ=DAILY",
    "time_zone": "America/New_York",
    "start_date": date(2026, 3, 8),
    "start_time": time(2, 30),
    "end_date": None,
}
# Samoa skipped 30 December 2011: 10:00 that day and on the 31st are one instant.
SAMOA_SKIPPED_DAY = {
    **NEW_YORK_GAP,
    "time_zone": "Pacific/Apia",
    "start_date": date(2011, 12, 28),
    "start_time": time(10, 0),
}


@FEED_PROFILE
@given(fields=schedules(), later=st.integers(0, 60))
@example(fields=NEW_YORK_GAP, later=12)
@example(fields=SAMOA_SKIPPED_DAY, later=30)
def test_the_feed_expands_to_exactly_tends_occurrences(couple, fields, later):
    ritual = make_ritual(couple, title="Under test", **fields)
    try:
        text = ical.feed_text(couple)
    finally:
        ritual.delete()
    start = datetime.combine(ritual.start_date, time.min, tzinfo=UTC) - timedelta(days=2)
    # Past 2038, where only the zone's rule (not its listed changes) says what holds.
    far_year = max(2039, ritual.start_date.year + 1) + later
    far = datetime(far_year, 1, 1, tzinfo=UTC)
    for window in [(start, start + timedelta(days=400)), (far, far + timedelta(days=366))]:
        ours = ritual.schedule.between(*window)
        theirs = ical.occurrences(text, *window)
        by_name = [o.astimezone(UTC) for o in theirs]
        describe(theirs)
        assert once(by_name, theirs) == ours, ("by zone name", window)
        if not theirs:
            continue  # a schedule that never happens is no event at all
        changes = ical.vtimezone_changes(text, ritual.time_zone, window[1])
        by_vtimezone = [ical.read_with_vtimezone(o.replace(tzinfo=None), changes) for o in theirs]
        assert once(by_vtimezone, theirs) == ours, ("by the feed's VTIMEZONE", window)


def describe(walls: list[datetime]) -> None:
    """Label the example (``--hypothesis-show-statistics``): did it meet a change?"""
    for wall in walls:
        local = wall.replace(tzinfo=None)
        if wall.astimezone(UTC).astimezone(wall.tzinfo).replace(tzinfo=None) != local:
            event("an occurrence in a spring gap")
        elif wall.replace(fold=1).utcoffset() != wall.utcoffset():
            event("an occurrence at a repeated time")
        if wall.year > 2038:
            event("occurrences past 2038")


def once(instants: list[datetime], walls: list[datetime]) -> list[datetime]:
    """The instants, each counted once, as Tend counts them.

    Only where a zone skipped a whole day (Samoa, 30 December 2011) can two
    times of a rule be one instant: that day's, read with the offset before
    the gap (RFC 5545), and the next day's. A feed can't say "once" (an EXDATE
    removes both), so there a calendar shows one ritual twice. Anywhere else
    a repeated instant is a bug.
    """
    skipped_days = [
        wall
        for wall in walls
        if wall.astimezone(UTC).astimezone(wall.tzinfo).replace(tzinfo=None)
        - wall.replace(tzinfo=None)
        >= timedelta(days=1)
    ]
    assert len(instants) - len(set(instants)) <= len(skipped_days), instants
    return sorted(set(instants))


END = datetime(LATEST.year + 1, 1, 1, tzinfo=UTC)


def test_every_zone_the_form_offers_gets_the_zones_own_offsets_from_2000_to_2101(couple):
    Ritual.objects.bulk_create(
        Ritual(
            couple=couple,
            title=name,
            rrule="FREQ=DAILY",
            start_date=EARLIEST,
            start_time=time(12, 0),
            time_zone=name,
        )
        for name in ZONES
    )
    components = ical.vtimezones(ical.feed_text(couple))
    # Weekly while zone files list changes (to 2037), then monthly (29 days, so
    # each year is sampled on other days) while only a yearly rule does.
    start, rule_only = (
        datetime(EARLIEST.year, 1, 1, 12, tzinfo=UTC),
        datetime(2041, 1, 1, tzinfo=UTC),
    )
    samples = [start + timedelta(days=7 * n) for n in range((rule_only - start).days // 7)]
    samples += [rule_only + timedelta(days=29 * n) for n in range((END - rule_only).days // 29)]
    checked = in_utc = 0
    for name in ZONES:
        zone = ZoneInfo(name)
        if name not in components:  # written in UTC ("…Z"), which needs none
            assert all(at.astimezone(zone).utcoffset() == timedelta(0) for at in samples)
            in_utc += 1
            continue
        changes = ical.changes_listed(components[name], END)
        offset_at = ical.offsets(changes)
        # Either side of every change it lists, to the second, too.
        instants = samples + [
            (at + shift).replace(tzinfo=UTC)
            for at, _, _ in changes
            for shift in (timedelta(seconds=-1), timedelta(0))
            if at >= start.replace(tzinfo=None)
        ]
        for instant in instants:
            assert offset_at(instant) == instant.astimezone(zone).utcoffset(), (
                name,
                instant,
            )
        checked += 1
    # Every zone not always at UTC was checked against its own VTIMEZONE.
    assert checked + in_utc == len(ZONES)
    assert checked > 400
