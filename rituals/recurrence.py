"""Schedules in local time, instants in UTC.

A ritual's recurrence is an RFC 5545 RRULE evaluated with ``dateutil.rrule``
over *naive local wall-clock times*; each wall-clock time is then placed in
the ritual's zone with ``fold=0``. That one step gives both DST rules:

- a wall-clock time that does not exist (spring forward) takes the UTC
  offset from before the gap, so 02:30 on the change day is 03:30 after it,
  as RFC 5545 says and as calendar apps do;
- a wall-clock time that happens twice (fall back) happens once, at its first
  occurrence.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from dateutil.rrule import rrule, rrulestr

# Longest plausible gap between two occurrences we search across when asked
# for the next one (a monthly "fifth Friday" can skip months).
SEARCH_HORIZON = timedelta(days=800)


def to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    """Place a naive wall-clock time in ``zone`` (fold=0) and return the UTC instant."""
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def to_local(instant: datetime, zone: ZoneInfo) -> datetime:
    """The naive wall-clock time of a UTC instant in ``zone``."""
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)


@dataclass(frozen=True)
class Schedule:
    rule: str  # an RRULE body such as "FREQ=WEEKLY;BYDAY=MO,TH"
    start_date: date
    start_time: time
    zone: ZoneInfo
    end_date: date | None = None

    def _rrule(self, near: datetime | None = None) -> rrule:
        """The rule, started at the latest whole period before ``near`` (naive local).

        dateutil walks a rule from its DTSTART; moving DTSTART forward by whole
        periods (days, weeks or months times INTERVAL) yields the same
        occurrences after it, so a year-old daily ritual costs one step, not 365.
        """
        dtstart = datetime.combine(self.start_date, self.start_time)
        if near is not None and near > dtstart:
            dtstart = self._shifted_start(dtstart, near)
        parsed = rrulestr(self.rule, dtstart=dtstart)
        if self.end_date is not None:
            until = datetime.combine(self.end_date, time(23, 59, 59))
            parsed = parsed.replace(until=until)
        return parsed

    def _shifted_start(self, dtstart: datetime, near: datetime) -> datetime:
        parts = dict(p.split("=", 1) for p in self.rule.removeprefix("RRULE:").split(";") if p)
        if "COUNT" in parts or "BYSETPOS" in parts:
            return dtstart  # counting from the original start: no shortcut
        interval = int(parts.get("INTERVAL", 1))
        frequency = parts.get("FREQ")
        if frequency in ("DAILY", "WEEKLY"):
            period = timedelta(days=interval * (7 if frequency == "WEEKLY" else 1))
            periods = (near - dtstart) // period - 1
            return dtstart + period * max(periods, 0)
        if frequency == "MONTHLY":
            months = (near.year - dtstart.year) * 12 + near.month - dtstart.month
            periods = months // interval - 1
            if periods > 0 and "BYMONTHDAY" not in parts and "BYDAY" not in parts:
                return dtstart  # the day of the month comes from DTSTART (31st…): keep it
            return dtstart + relativedelta(months=interval * max(periods, 0))
        return dtstart

    def _wall_times_from(self, local: datetime) -> Iterator[datetime]:
        """Naive local occurrences at or after ``local``, in one pass of the rule."""
        return self._rrule(near=local).xafter(local, inc=True)

    def occurrences_after(
        self, instant: datetime, *, inclusive: bool = False
    ) -> Iterator[datetime]:
        """UTC occurrences after ``instant``, strictly increasing."""
        # Start a day early in wall-clock time: a wall time just before the
        # local reading of ``instant`` may still map to a later UTC instant
        # around a DST change.
        local = to_local(instant, self.zone) - timedelta(days=1)
        previous: datetime | None = None
        for wall in self._wall_times_from(local):
            occurrence = to_utc(wall, self.zone)
            if occurrence < instant or (occurrence == instant and not inclusive):
                continue
            if previous is not None and occurrence <= previous:
                continue  # a wall time that collapsed onto an earlier instant
            previous = occurrence
            yield occurrence

    def first_wall_time(self) -> datetime | None:
        """The first naive local time the rule gives (an RFC 5545 DTSTART), if any."""
        return next(iter(self._rrule()), None)

    def next_after(self, instant: datetime, *, inclusive: bool = False) -> datetime | None:
        return next(self.occurrences_after(instant, inclusive=inclusive), None)

    def between(self, start: datetime, end: datetime) -> list[datetime]:
        """UTC occurrences in [start, end)."""
        found = []
        for occurrence in self.occurrences_after(start, inclusive=True):
            if occurrence >= end:
                break
            found.append(occurrence)
        return found

    def first_n(self, count: int, after: datetime) -> list[datetime]:
        found = []
        for occurrence in self.occurrences_after(after):
            found.append(occurrence)
            if len(found) == count:
                break
        return found

    def previous_before(self, instant: datetime, limit: int) -> list[datetime]:
        """Up to ``limit`` UTC occurrences before ``instant``, newest first."""
        dtstart = datetime.combine(self.start_date, self.start_time)
        end = to_local(instant, self.zone) + timedelta(days=1)
        span = timedelta(days=limit + 2)
        while True:
            begin = max(dtstart, end - span)
            walls = self._rrule(near=begin).between(begin, end, inc=True)
            found: list[datetime] = []
            for wall in reversed(walls):
                occurrence = to_utc(wall, self.zone)
                if occurrence < instant and (not found or occurrence < found[-1]):
                    found.append(occurrence)
            if len(found) >= limit or begin == dtstart:
                return found[:limit]
            span *= 4

    def includes(self, instant: datetime) -> bool:
        """Is ``instant`` one of this schedule's occurrences?"""
        return self.next_after(instant, inclusive=True) == instant

    def smallest_gap(self, samples: int = 12) -> timedelta | None:
        """The shortest time between consecutive occurrences, over the first few."""
        start = to_utc(datetime.combine(self.start_date, self.start_time), self.zone)
        occurrences = self.first_n(samples, start - timedelta(seconds=1))
        gaps = [b - a for a, b in pairwise(occurrences)]
        return min(gaps) if gaps else None


# --- the plain-words form of the rules Tend offers ---------------------------

WEEKDAYS = [
    ("MO", "Monday"),
    ("TU", "Tuesday"),
    ("WE", "Wednesday"),
    ("TH", "Thursday"),
    ("FR", "Friday"),
    ("SA", "Saturday"),
    ("SU", "Sunday"),
]
ORDINALS = [(1, "first"), (2, "second"), (3, "third"), (4, "fourth"), (-1, "last")]
_DAY_NAMES = dict(WEEKDAYS)
_ORDINAL_NAMES = dict(ORDINALS)


@dataclass(frozen=True)
class Pattern:
    """The choices of the ritual form, equivalent to one RRULE."""

    frequency: str  # daily | weekly | monthly_day | monthly_weekday
    weekdays: tuple[str, ...] = ()
    interval: int = 1
    month_day: int | None = None
    nth: int | None = None
    nth_weekday: str | None = None

    def to_rrule(self) -> str:
        if self.frequency == "daily":
            return "FREQ=DAILY"
        if self.frequency == "weekly":
            days = ",".join(code for code, _ in WEEKDAYS if code in self.weekdays)
            interval = f";INTERVAL={self.interval}" if self.interval > 1 else ""
            return f"FREQ=WEEKLY{interval};BYDAY={days}"
        if self.frequency == "monthly_day":
            return f"FREQ=MONTHLY;BYMONTHDAY={self.month_day}"
        if self.frequency == "monthly_weekday":
            return f"FREQ=MONTHLY;BYDAY={self.nth}{self.nth_weekday}"
        raise ValueError(f"unknown frequency {self.frequency!r}")

    @classmethod
    def from_rrule(cls, rule: str) -> Pattern:
        parts = dict(part.split("=", 1) for part in rule.removeprefix("RRULE:").split(";") if part)
        freq = parts.get("FREQ")
        if freq == "DAILY":
            return cls("daily")
        if freq == "WEEKLY":
            days = tuple(parts.get("BYDAY", "").split(",")) if parts.get("BYDAY") else ()
            return cls("weekly", weekdays=days, interval=int(parts.get("INTERVAL", 1)))
        if freq == "MONTHLY" and "BYMONTHDAY" in parts:
            return cls("monthly_day", month_day=int(parts["BYMONTHDAY"]))
        if freq == "MONTHLY" and "BYDAY" in parts:
            by_day = parts["BYDAY"]
            return cls("monthly_weekday", nth=int(by_day[:-2]), nth_weekday=by_day[-2:])
        raise ValueError(f"unsupported rule {rule!r}")

    def describe(self) -> str:
        if self.frequency == "daily":
            return "Every day"
        if self.frequency == "weekly":
            names = [_DAY_NAMES[code] for code, _ in WEEKDAYS if code in self.weekdays]
            if len(names) == 7:
                days = "day"
            elif names == [name for _, name in WEEKDAYS[:5]]:
                days = "weekday"
            elif len(names) > 1:
                days = ", ".join(names[:-1]) + " and " + names[-1]
            else:
                days = names[0] if names else "(no day chosen)"
            if self.interval > 1:
                return f"Every {self.interval} weeks on {days}"
            return f"Every {days}"
        if self.frequency == "monthly_day":
            return f"Monthly on day {self.month_day}"
        return f"Monthly on the {_ORDINAL_NAMES[self.nth]} {_DAY_NAMES[self.nth_weekday]}"


def describe_rule(rule: str) -> str:
    try:
        return Pattern.from_rrule(rule).describe()
    except (ValueError, KeyError):
        return rule
