"""Reading Tend's calendar feed as calendar apps do, with code that isn't Tend's.

Occurrences come from ``recurring_ical_events`` (an RFC 5545 expander over
icalendar and dateutil). It finds a zone by its TZID in the system's zone
database, as Google and Apple do; apps that trust the feed's own VTIMEZONE
instead (Outlook and others) are played by ``read_with_vtimezone``, which
places a wall-clock time with nothing but the offsets the VTIMEZONE lists.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import recurring_ical_events
from dateutil.rrule import rrulestr
from django.test import Client
from icalendar import Calendar, Timezone

from rituals import calendar

# A change of offset: (UTC instant, naive), offset before, offset after.
Change = tuple[datetime, timedelta, timedelta]


def feed_text(couple) -> bytes:
    """The feed as a calendar app downloads it."""
    response = Client().get(calendar.feed_path(couple))
    assert response.status_code == 200
    return response.content


def occurrences(text: bytes, start: datetime, end: datetime) -> list[datetime]:
    """Starts of the feed's occurrences in [start, end), zoned as the reader zones them."""
    margin = timedelta(days=2)  # the reader picks by its own instants; we filter on ours
    events = recurring_ical_events.of(Calendar.from_ical(text)).between(
        start - margin, end + margin
    )
    starts = sorted(event.decoded("DTSTART") for event in events)
    return [s for s in starts if start <= s < end]


def vtimezones(feed: bytes) -> dict[str, Timezone]:
    return {str(tz["TZID"]): tz for tz in Calendar.from_ical(feed).walk("VTIMEZONE")}


def vtimezone_changes(feed: bytes, tzid: str, until: datetime) -> list[Change]:
    """Every change of offset the feed's VTIMEZONE for ``tzid`` lists up to ``until``."""
    return changes_listed(vtimezones(feed)[tzid], until)


def changes_listed(component: Timezone, until: datetime) -> list[Change]:
    """Every change of offset a VTIMEZONE lists up to ``until``."""
    changes = []
    for observance in component.walk():
        if observance.name not in ("STANDARD", "DAYLIGHT"):
            continue
        before = observance.decoded("TZOFFSETFROM")
        after = observance.decoded("TZOFFSETTO")
        first = observance.decoded("DTSTART")  # local time, read with TZOFFSETFROM
        onsets = [first]
        rdates = observance.get("RDATE", [])
        for rdate in rdates if isinstance(rdates, list) else [rdates]:
            onsets += [value.dt for value in rdate.dts]
        if "RRULE" in observance:
            rule = rrulestr(observance["RRULE"].to_ical().decode(), dtstart=first)
            assert next(iter(rule)) == first, "an RRULE's DTSTART must be its first onset"
            onsets = list(rule.between(first, until.replace(tzinfo=None), inc=True))
        changes += [(onset - before, before, after) for onset in onsets]
    return sorted(changes)


def read_with_vtimezone(wall: datetime, changes: list[Change]) -> datetime:
    """The UTC instant of a naive wall-clock time, by RFC 5545 (3.3.5) and the VTIMEZONE.

    A repeated time is its first occurrence; a time skipped by a change is
    read with the offset from before the change. (dateutil's own VTIMEZONE
    reader takes the offset after it, so it can't stand in here.)
    """
    assert changes and wall >= changes[0][0] + changes[0][1], "the VTIMEZONE starts too late"
    for at, before, after in changes:
        if wall < at + max(before, after):
            return (wall - before).replace(tzinfo=UTC)
    return (wall - changes[-1][2]).replace(tzinfo=UTC)


def offsets(changes: list[Change]) -> Callable[[datetime], timedelta]:
    """The UTC offset the VTIMEZONE gives at an instant."""
    instants = [at for at, _, _ in changes]

    def offset_at(instant: datetime) -> timedelta:
        index = bisect_right(instants, instant.astimezone(UTC).replace(tzinfo=None))
        return changes[index - 1][2] if index else changes[0][1]

    return offset_at
