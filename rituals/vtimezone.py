"""VTIMEZONE components that stay right for as long as a ritual runs.

A calendar app that reads a zone from the feed (rather than by its name from
its own database) knows only what the VTIMEZONE says. icalendar's helper lists
the transitions up to 2038 and nothing after, so such an app would drop
daylight saving time for every later year. The zone's own data has what we
need: its TZif file (the one ``zoneinfo`` reads) lists the transitions zic
wrote out, up to 2037 at most, and ends with a POSIX TZ string that governs
every instant after them (RFC 8536, section 3.3). So a component here holds

1. the offset in effect when the feed's earliest event starts;
2. every listed transition after that, as RDATEs;
3. the footer's rule from then on, as one yearly RRULE per change, which
   never runs out.

A footer rule an RRULE can't express exactly (none in today's data) falls back
to transitions computed by ``zoneinfo`` up to ``FALLBACK_UNTIL``.
"""

from __future__ import annotations

import calendar
import re
import struct
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard, vRecur

FALLBACK_UNTIL = date(2200, 1, 1)
ONE_DAY = timedelta(days=1)
# POSIX counts weekdays from Sunday; RRULE names them.
POSIX_WEEKDAYS = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"]


@dataclass(frozen=True)
class Change:
    """One change of a zone's offset (or of its name or daylight flag)."""

    at: datetime  # UTC
    before: timedelta
    after: timedelta
    name: str  # the abbreviation after it, e.g. "EDT"
    is_dst: bool

    @property
    def local(self) -> datetime:
        """The wall-clock reading, naive, just before the change: RFC 5545's onset."""
        return (self.at + self.before).replace(tzinfo=None)


@dataclass(frozen=True)
class YearlyRule:
    """One half of a POSIX footer rule: "Mm.w.d/time", e.g. the second Sunday of March at 2:00."""

    month: int
    week: int  # 1-4, or 5 for the last
    weekday: int  # 0 = Sunday
    time: timedelta  # local time of the change, in the offset before it; may be < 0 or > 24 h

    def date_in(self, year: int) -> datetime:
        """The naive local wall-clock time of the change in ``year``."""
        first = date(year, self.month, 1)
        # date.weekday() counts from Monday, POSIX from Sunday.
        day = 1 + (self.weekday - (first.weekday() + 1)) % 7 + 7 * (self.week - 1)
        if self.week == 5:
            length = calendar.monthrange(year, self.month)[1]
            while day > length:
                day -= 7
        return datetime(year, self.month, day) + self.time

    def rrules(self) -> list[tuple[vRecur, int]] | None:
        """RRULEs that together give exactly one change per year, with the month
        of each; None if none can (a February window that depends on leap years)."""
        shift, _ = divmod(self.time, ONE_DAY)
        weekday = POSIX_WEEKDAYS[(self.weekday + shift) % 7]
        if shift == 0:
            nth = -1 if self.week == 5 else self.week
            return [(vRecur(FREQ="YEARLY", BYMONTH=self.month, BYDAY=f"{nth}{weekday}"), 0)]
        # A change at 24:00 or later (Chile: "first Saturday, 24:00") or before
        # 00:00 lands on a weekday in a shifted 7-day window: "the Sunday among
        # days 2-8". A window that spills into the next or previous month
        # (Egypt: "last Thursday, 24:00") becomes one rule per month.
        days_by_month: dict[int, list[int]] = defaultdict(list)
        previous, following = (self.month - 2) % 12 + 1, self.month % 12 + 1
        if self.week == 5:  # counted from the month's end: -1 is the last day
            for day in range(-7 + shift, shift):
                if day < 0:
                    days_by_month[self.month].append(day)
                else:
                    days_by_month[following].append(day + 1)
        else:
            length = calendar.monthrange(2001, self.month)[1]
            for day in range(7 * (self.week - 1) + 1 + shift, 7 * self.week + 1 + shift):
                if day < 1:
                    days_by_month[previous].append(day - 1)
                elif day <= 28:
                    days_by_month[self.month].append(day)
                elif self.month == 2:
                    return None
                elif day <= length:
                    days_by_month[self.month].append(day)
                else:
                    days_by_month[following].append(day - length)
        return [
            (vRecur(FREQ="YEARLY", BYMONTH=month, BYMONTHDAY=days, BYDAY=weekday), month)
            for month, days in days_by_month.items()
        ]


@dataclass(frozen=True)
class Footer:
    """A POSIX TZ string such as "EST5EDT,M3.2.0,M11.1.0"."""

    std_name: str
    std_offset: timedelta
    dst_name: str | None = None
    dst_offset: timedelta | None = None
    start: YearlyRule | None = None  # standard -> daylight
    end: YearlyRule | None = None  # daylight -> standard


_NAME = r"<[^>]+>|[A-Za-z]{3,}"
_CLOCK = r"[+-]?\d{1,3}(?::\d{1,2}){0,2}"
_RULE = r"M\d{1,2}\.\d\.\d"
_FOOTER = re.compile(
    rf"(?P<std>{_NAME})(?P<std_offset>{_CLOCK})"
    rf"(?:(?P<dst>{_NAME})(?P<dst_offset>{_CLOCK})?"
    rf",(?P<start>{_RULE})(?:/(?P<start_time>{_CLOCK}))?"
    rf",(?P<end>{_RULE})(?:/(?P<end_time>{_CLOCK}))?)?"
)


def _clock(text: str) -> timedelta:
    sign = -1 if text.startswith("-") else 1
    parts = [int(p) for p in text.lstrip("+-").split(":")]
    hours, minutes, seconds = [*parts, 0, 0][:3]
    return sign * timedelta(hours=hours, minutes=minutes, seconds=seconds)


def _rule(text: str, time: str | None) -> YearlyRule:
    month, week, weekday = (int(p) for p in text[1:].split("."))
    return YearlyRule(month, week, weekday, _clock(time) if time else timedelta(hours=2))


def parse_footer(text: str) -> Footer | None:
    """The footer's rule, or None for a form this module doesn't read (Julian days)."""
    match = _FOOTER.fullmatch(text)
    if match is None:
        return None
    # POSIX offsets count hours west of Greenwich: "EST5" is UTC-5.
    std_offset = -_clock(match["std_offset"])
    if match["dst"] is None:
        return Footer(match["std"].strip("<>"), std_offset)
    dst_offset = (
        -_clock(match["dst_offset"]) if match["dst_offset"] else std_offset + timedelta(hours=1)
    )
    return Footer(
        std_name=match["std"].strip("<>"),
        std_offset=std_offset,
        dst_name=match["dst"].strip("<>"),
        dst_offset=dst_offset,
        start=_rule(match["start"], match["start_time"]),
        end=_rule(match["end"], match["end_time"]),
    )


# --- reading the zone's TZif file (RFC 8536) ----------------------------------


def _tzif_bytes(name: str) -> bytes:
    """The file ``zoneinfo.ZoneInfo(name)`` reads: the first on TZPATH, else the
    ``tzdata`` package's."""
    for folder in zoneinfo.TZPATH:
        path = Path(folder, name)
        if path.is_file():
            return path.read_bytes()
    return resources.files("tzdata.zoneinfo").joinpath(*name.split("/")).read_bytes()


def _parse_tzif(data: bytes) -> tuple[list[Change], str]:
    """The transitions a TZif file lists, and its footer ("" for version 1)."""
    header = struct.Struct(">4sc15x6l")
    magic, version, isut, isstd, leaps, times, types, chars = header.unpack_from(data)
    if magic != b"TZif":
        raise ValueError("not a TZif file")
    size, offset = 4, header.size
    if version != b"\x00":  # skip the 32-bit block; the 64-bit one follows with a footer
        offset += times * 5 + types * 6 + chars + leaps * 8 + isstd + isut
        _, _, isut, isstd, leaps, times, types, chars = header.unpack_from(data, offset)
        size, offset = 8, offset + header.size
    instants = struct.unpack_from(f">{times}{'q' if size == 8 else 'l'}", data, offset)
    offset += times * size
    indexes = data[offset : offset + times]
    offset += times
    infos = [struct.unpack_from(">lBB", data, offset + 6 * i) for i in range(types)]
    offset += types * 6
    abbreviations = data[offset : offset + chars]
    offset += chars + leaps * (size + 4) + isstd + isut
    footer = data[offset:].strip(b"\n").decode("ascii") if version != b"\x00" else ""

    def name_at(index: int) -> str:
        return abbreviations[index : abbreviations.index(b"\x00", index)].decode("ascii")

    changes = []
    before = timedelta(seconds=infos[0][0])  # type 0 applies before the first one
    for instant, index in zip(instants, indexes, strict=True):
        utoff, is_dst, name_index = infos[index]
        after = timedelta(seconds=utoff)
        if instant > -(2**40):  # zic's "big bang" marker lies outside datetime's range
            at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=instant)
            changes.append(Change(at, before, after, name_at(name_index), bool(is_dst)))
        before = after
    return changes, footer


@lru_cache(maxsize=128)
def zone_changes(name: str) -> tuple[tuple[Change, ...], str]:
    changes, footer = _parse_tzif(_tzif_bytes(name))
    return tuple(changes), footer


# --- the component -------------------------------------------------------------


def _observance(
    is_dst: bool, onset: datetime, before: timedelta, after: timedelta, name: str
) -> TimezoneStandard | TimezoneDaylight:
    observance = TimezoneDaylight() if is_dst else TimezoneStandard()
    observance.add("dtstart", onset)
    observance.add("tzoffsetfrom", before)
    observance.add("tzoffsetto", after)
    observance.add("tzname", name)
    return observance


def _footer_changes(footer: Footer, after: datetime) -> list[tuple[YearlyRule, Change]]:
    """The first change by each half of the footer's rule later than ``after`` (UTC)."""
    assert footer.start and footer.end and footer.dst_offset is not None
    halves = [
        (footer.start, footer.std_offset, footer.dst_offset, footer.dst_name, True),
        (footer.end, footer.dst_offset, footer.std_offset, footer.std_name, False),
    ]
    found = []
    for rule, before, offset, name, is_dst in halves:
        year = after.year - 1
        while True:
            at = (rule.date_in(year) - before).replace(tzinfo=UTC)
            if at > after:
                found.append((rule, Change(at, before, offset, name, is_dst)))
                break
            year += 1
    return found


def zone_component(name: str, since: datetime) -> Timezone:
    """The VTIMEZONE for ``name``, right from the naive local time ``since`` on, for ever."""
    zone = zoneinfo.ZoneInfo(name)
    start = since.replace(tzinfo=zone)
    since_utc = start.astimezone(UTC)
    changes, footer_text = zone_changes(name)
    footer = parse_footer(footer_text) if footer_text else None
    if footer_text and footer is None:
        return _fallback(zone, name, since)

    component = Timezone()
    component.add("tzid", name)
    offset = start.utcoffset()
    component.add_component(
        _observance(bool(start.dst()), since, offset, offset, start.tzname() or name)
    )
    listed = [c for c in changes if c.at > since_utc]
    groups: dict[tuple, list[datetime]] = defaultdict(list)
    for change in listed:
        groups[(change.is_dst, change.before, change.after, change.name)].append(change.local)
    for (is_dst, before, after, abbreviation), onsets in groups.items():
        observance = _observance(is_dst, onsets[0], before, after, abbreviation)
        if onsets[1:]:
            observance.add("rdate", onsets[1:])
        component.add_component(observance)

    if footer is not None and footer.start is not None:
        last = max([since_utc, *(c.at for c in changes)])
        for rule, change in _footer_changes(footer, last):
            rrules = rule.rrules()
            if rrules is None:
                return _fallback(zone, name, since)
            for rrule, month in rrules:
                onset = change.local
                if month and onset.month != month:  # a split window: this part's first one
                    onset = _first_in_month(rule, month, change)
                observance = _observance(
                    change.is_dst, onset, change.before, change.after, change.name
                )
                observance.add("rrule", rrule)
                component.add_component(observance)
    return component


def _first_in_month(rule: YearlyRule, month: int, first: Change) -> datetime:
    """The first change of ``rule`` at or after ``first`` that falls in ``month``."""
    year = first.local.year
    while True:
        local = rule.date_in(year)
        if local >= first.local and local.month == month:
            return local
        year += 1


def _fallback(zone: zoneinfo.ZoneInfo, name: str, since: datetime) -> Timezone:
    """Every change up to FALLBACK_UNTIL, found by asking zoneinfo (slow, but any rule)."""
    return Timezone.from_tzinfo(
        zone, name, first_date=since.date() - ONE_DAY, last_date=FALLBACK_UNTIL
    )
