"""Our rhythm: the couple's story over recent weeks, as counts per week or month.

Two halves, kept apart so each can be tested on its own:

- ``*_rows`` functions each run one aggregate query over a capped window
  (the last ``WEEKS`` weeks, the last ``MONTHS`` months), grouped in the
  database, so the page costs the same number of queries and about the same
  rows after a week together as after ten years;
- pure functions turn those rows into per-week (or per-month) numbers.

Weeks start on Monday in the viewer's own time zone. Instants (a kept
ritual, a finished exercise) are truncated to weeks and months by the
database in that zone (``TruncWeek(tzinfo=...)``: ``AT TIME ZONE`` on
PostgreSQL, Django's own function on SQLite), so a walk on Sunday evening
in Auckland lands in the Auckland week, across daylight-saving changes too.
Journal entries (appreciations, daily answers) carry their author's own date
in their key and are placed by that date.

Privacy: entries are read only through ``Entry.objects.visible_to`` and only
from the two current members. A partner's private appreciation is never
counted as received; a sealed daily answer is counted only as "we both
answered that day" (which is exactly when ``visible_to`` opens it to the
reader), and no text is ever read.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, DateField, Min, Q
from django.db.models.fields.json import KT
from django.db.models.functions import Substr, TruncMonth, TruncWeek

from couples.models import Couple
from exercises.models import Entry, Session
from rituals.models import Completion, Ritual, local_day_bounds

WEEKS = 26
MONTHS = 12
APPRECIATION = "appreciation:"
DAILY = "daily:"
LOVE_MAP_RATING = "love_maps:reveal-"


# ---------- The window ----------


@dataclass(frozen=True)
class Window:
    """The weeks and months the page shows, in the viewer's time zone."""

    today: date
    zone: ZoneInfo
    weeks: tuple[date, ...]  # Mondays, oldest first; the last holds today
    months: tuple[date, ...]  # first days of months, oldest first

    @property
    def first_day(self) -> date:
        return self.weeks[0]

    @property
    def weeks_start(self) -> datetime:
        return local_day_bounds(self.weeks[0], self.zone)[0]

    @property
    def months_start(self) -> datetime:
        return local_day_bounds(self.months[0], self.zone)[0]

    def week_of(self, day: date) -> date:
        return day - timedelta(days=day.weekday())


def window_for(today: date, zone: ZoneInfo, weeks: int = WEEKS, months: int = MONTHS) -> Window:
    monday = today - timedelta(days=today.weekday())
    month_starts = []
    year, month = today.year, today.month
    for _ in range(months):
        month_starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return Window(
        today=today,
        zone=zone,
        weeks=tuple(monday - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)),
        months=tuple(reversed(month_starts)),
    )


def _readable(couple: Couple, viewer, member_ids: list[int]):
    """Entries outside live sessions the viewer may read, from the current two only."""
    return Entry.objects.filter(couple=couple, session=None, author__in=member_ids).visible_to(
        viewer
    )


def _key_range(prefix: str, window: Window) -> Q:
    # Dates in keys sort as text. A partner a few hours ahead may have
    # written "tomorrow" already: one more day keeps it.
    last = window.today + timedelta(days=2)
    return Q(
        prompt_key__gte=f"{prefix}{window.first_day.isoformat()}",
        prompt_key__lt=f"{prefix}{last.isoformat()}",
    )


# ---------- Rituals kept ----------


@dataclass(frozen=True)
class KeptRow:
    ritual_id: int
    week: date
    kept: int  # occurrences kept, by one or both
    together: int  # of those, kept together


def ritual_rows(rituals: list[Ritual], window: Window) -> list[KeptRow]:
    """Occurrences kept per ritual and week: one query.

    An occurrence two partners both marked counts once; it counts as
    together when either said so.
    """
    if not rituals:
        return []
    rows = (
        Completion.objects.filter(ritual__in=rituals, occurrence_at__gte=window.weeks_start)
        .annotate(week=TruncWeek("occurrence_at", tzinfo=window.zone, output_field=DateField()))
        .values("ritual_id", "week")
        .annotate(
            kept=Count("occurrence_at", distinct=True),
            together=Count("occurrence_at", distinct=True, filter=Q(together=True)),
        )
        .order_by()
    )
    return [KeptRow(r["ritual_id"], r["week"], r["kept"], r["together"]) for r in rows]


@dataclass(frozen=True)
class Kept:
    together: int = 0
    alone: int = 0

    @property
    def total(self) -> int:
        return self.together + self.alone


@dataclass
class RitualRhythm:
    ritual: Ritual
    weeks: list[Kept]

    @property
    def kept(self) -> int:
        return sum(week.total for week in self.weeks)

    @property
    def together(self) -> int:
        return sum(week.together for week in self.weeks)


def rituals_by_week(
    rituals: list[Ritual], rows: list[KeptRow], window: Window
) -> list[RitualRhythm]:
    """One line of weeks per ritual: the active ones, and paused ones kept lately."""
    found: dict[tuple[int, date], Kept] = {
        (row.ritual_id, row.week): Kept(row.together, row.kept - row.together) for row in rows
    }
    result = []
    for ritual in rituals:
        weeks = [found.get((ritual.pk, week), Kept()) for week in window.weeks]
        rhythm = RitualRhythm(ritual, weeks)
        if ritual.is_active or rhythm.kept:
            result.append(rhythm)
    return result


# ---------- Appreciations ----------


@dataclass(frozen=True)
class NoticedRow:
    day: date
    mine: bool
    count: int


def appreciation_rows(couple: Couple, viewer, member_ids: list[int], window: Window):
    """Appreciations per author's date, the viewer's own and the partner's shared: one query."""
    start = len(APPRECIATION) + 1
    rows = (
        _readable(couple, viewer, member_ids)
        .filter(_key_range(APPRECIATION, window))
        .annotate(day=Substr("prompt_key", start, 10))
        .values("day", "author_id")
        .annotate(count=Count("id"))
        .order_by()
    )
    result = []
    for row in rows:
        try:
            day = date.fromisoformat(row["day"])
        except ValueError:
            continue
        result.append(NoticedRow(day, row["author_id"] == viewer.pk, row["count"]))
    return result


@dataclass(frozen=True)
class Noticed:
    by_you: int = 0
    by_partner: int = 0

    @property
    def total(self) -> int:
        return self.by_you + self.by_partner


def appreciations_by_week(rows: list[NoticedRow], window: Window) -> list[Noticed]:
    # A partner ahead of the viewer's clock may have written on "tomorrow":
    # that belongs to this week, not to one the page doesn't show.
    mine: dict[date, int] = defaultdict(int)
    theirs: dict[date, int] = defaultdict(int)
    for row in rows:
        week = window.week_of(min(row.day, window.today))
        (mine if row.mine else theirs)[week] += row.count
    return [Noticed(mine[week], theirs[week]) for week in window.weeks]


# ---------- The daily question ----------


def daily_rows(couple: Couple, viewer, member_ids: list[int], window: Window) -> set[date]:
    """The days both partners answered the daily question: one query.

    Counting authors over what ``visible_to`` lets the viewer read is the
    rule itself: the partner's sealed answer is readable exactly when the
    viewer answered the same day's question too. Only the days leave the
    database, never a word of an answer.
    """
    start = len(DAILY) + 1
    days = (
        _readable(couple, viewer, member_ids)
        .filter(_key_range(DAILY, window))
        .annotate(day=Substr("prompt_key", start, 10))
        .values("day")
        .annotate(voices=Count("author", distinct=True))
        .filter(voices__gte=2)
        .order_by()
        .values_list("day", flat=True)
    )
    result = set()
    for text in days:
        try:
            result.add(date.fromisoformat(text))
        except ValueError:
            continue
    return result


@dataclass(frozen=True)
class Conversations:
    weeks: list[int]  # days both answered, per week
    current_run: int  # days in a row up to today (or yesterday: today isn't over)
    longest_run: int

    @property
    def total(self) -> int:
        return sum(self.weeks)


def conversations_by_week(days: set[date], window: Window, today: date) -> Conversations:
    """``today`` is the couple's day, the one the daily question belongs to."""
    per_week: dict[date, int] = defaultdict(int)
    for day in days:
        per_week[window.week_of(min(day, window.today))] += 1
    current = 0
    day = today if today in days else today - timedelta(days=1)
    while day in days:
        current += 1
        day -= timedelta(days=1)
    longest = run = 0
    previous = None
    for day in sorted(days):
        run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        longest = max(longest, run)
        previous = day
    return Conversations([per_week[week] for week in window.weeks], current, longest)


# ---------- Exercises ----------


def exercise_rows(couple: Couple, window: Window) -> dict[date, int]:
    """Exercises finished together per month: one query."""
    rows = (
        Session.objects.filter(
            couple=couple,
            status=Session.Status.FINISHED,
            finished_at__gte=window.months_start,
        )
        .annotate(month=TruncMonth("finished_at", tzinfo=window.zone, output_field=DateField()))
        .values("month")
        .annotate(count=Count("id"))
        .order_by()
    )
    return {row["month"]: row["count"] for row in rows}


def exercises_by_month(rows: dict[date, int], window: Window) -> list[int]:
    return [rows.get(month, 0) for month in window.months]


# ---------- The love map ----------


@dataclass(frozen=True)
class ExploredRow:
    category: str
    question: str
    first_at: datetime


def love_map_rows(couple: Couple, viewer, member_ids: list[int]) -> list[ExploredRow]:
    """Each question explored in Love maps, with when it was first: one query.

    At most one row per question of the deck, however many rounds were played.
    """
    rows = (
        Entry.objects.filter(
            couple=couple,
            author__in=member_ids,
            prompt_key__startswith=LOVE_MAP_RATING,
            data__has_key="rating",
        )
        .visible_to(viewer)
        .values(category=KT("data__category"), question=KT("data__question"))
        .annotate(first_at=Min("created_at"))
        .order_by()
    )
    return [
        ExploredRow(row["category"], row["question"], row["first_at"])
        for row in rows
        if row["category"] and row["question"]
    ]


@dataclass(frozen=True)
class MapArea:
    key: str
    name: str
    earlier: int  # questions first explored before the window
    lately: int  # questions first explored within the window
    questions: int  # questions in the deck

    @property
    def explored(self) -> int:
        return self.earlier + self.lately


def love_map_fill(
    rows: list[ExploredRow],
    categories: dict[str, str],
    deck: dict[str, int],
    since: datetime,
) -> list[MapArea]:
    """Per category of the deck: how much of it you've explored, and how much of that lately."""
    earlier: dict[str, int] = defaultdict(int)
    lately: dict[str, int] = defaultdict(int)
    for row in rows:
        (lately if row.first_at >= since else earlier)[row.category] += 1
    return [
        MapArea(
            key,
            name,
            earlier[key],
            lately[key],
            max(deck.get(key, 0), earlier[key] + lately[key]),
        )
        for key, name in categories.items()
    ]
