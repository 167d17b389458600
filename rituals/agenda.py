"""Occurrences as a partner sees them: in their time zone, with who kept them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from accounts.models import User
from couples.models import Couple
from rituals.models import Completion, Ritual, local_day_bounds


@dataclass
class Slot:
    ritual: Ritual
    occurrence_at: datetime
    local_start: datetime
    completions: list[Completion] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.ritual.pk}-{int(self.occurrence_at.timestamp())}"

    @property
    def kept(self) -> bool:
        return bool(self.completions)

    @property
    def together(self) -> bool:
        return any(c.together for c in self.completions)

    def kept_by(self, user) -> Completion | None:
        return next((c for c in self.completions if c.user_id == user.pk), None)


def completions_between(rituals: list[Ritual], start: datetime, end: datetime):
    """Completions of these rituals in [start, end), grouped by (ritual, occurrence)."""
    grouped: dict[tuple[int, datetime], list[Completion]] = defaultdict(list)
    # The author's name by a subquery per row rather than a join: PostgreSQL
    # misjudged the join and hashed the whole users table for three rows.
    author_name = User.objects.filter(pk=OuterRef("user_id")).values("display_name")[:1]
    rows = (
        Completion.objects.filter(
            ritual__in=rituals, occurrence_at__gte=start, occurrence_at__lt=end
        )
        .annotate(author_name=Subquery(author_name))
        .order_by("created_at")
    )
    for completion in rows:
        grouped[(completion.ritual_id, completion.occurrence_at)].append(completion)
    return grouped


def slots_between(
    rituals: list[Ritual], start: datetime, end: datetime, zone: ZoneInfo
) -> list[Slot]:
    grouped = completions_between(rituals, start, end) if rituals else {}
    slots = [
        Slot(
            ritual=ritual,
            occurrence_at=occurrence,
            local_start=occurrence.astimezone(zone),
            completions=grouped.get((ritual.pk, occurrence), []),
        )
        for ritual in rituals
        for occurrence in ritual.schedule.between(start, end)
    ]
    slots.sort(key=lambda slot: (slot.occurrence_at, slot.ritual.title))
    return slots


def slot_at(ritual: Ritual, occurrence: datetime, zone: ZoneInfo) -> Slot:
    """One occurrence (already known to be one of the ritual's) with its marks.

    Two rows at most, found by the unique index: a plain join for the
    author's name plans well here (and costs half the subquery's time).
    """
    completions = (
        Completion.objects.filter(ritual=ritual, occurrence_at=occurrence)
        .annotate(author_name=F("user__display_name"))
        .order_by("created_at")
    )
    return Slot(
        ritual=ritual,
        occurrence_at=occurrence,
        local_start=occurrence.astimezone(zone),
        completions=list(completions),
    )


@dataclass
class Agenda:
    today: list[Slot]
    upcoming: list[Slot]
    has_rituals: bool


def dashboard_agenda(couple: Couple, viewer, now: datetime | None = None, days: int = 7) -> Agenda:
    """Today's occurrences for the viewer's local day, and the next few after it."""
    now = now or timezone.now()
    zone = viewer.zone
    today = timezone.localdate(now, zone)
    start, end_of_today = local_day_bounds(today, zone)
    _, horizon = local_day_bounds(today + timedelta(days=days - 1), zone)
    rituals = list(couple.rituals.all())
    slots = slots_between([r for r in rituals if r.is_active], start, horizon, zone)
    return Agenda(
        today=[s for s in slots if s.occurrence_at < end_of_today],
        upcoming=[s for s in slots if s.occurrence_at >= end_of_today][:6],
        # paused ones count: "no rituals yet" would be wrong for a couple resting
        has_rituals=bool(rituals),
    )


def week(couple: Couple, viewer, first_day: date) -> list[tuple[date, list[Slot]]]:
    zone = viewer.zone
    start, _ = local_day_bounds(first_day, zone)
    _, end = local_day_bounds(first_day + timedelta(days=6), zone)
    rituals = list(couple.rituals.filter(is_active=True))
    slots = slots_between(rituals, start, end, zone)
    days = [first_day + timedelta(days=offset) for offset in range(7)]
    return [(day, [s for s in slots if s.local_start.date() == day]) for day in days]


def streak(ritual: Ritual, now: datetime, zone: ZoneInfo) -> int:
    """Consecutive scheduled occurrences kept, counting back from the latest.

    Today's occurrences that aren't kept yet don't break the streak: the day
    isn't over.
    """
    kept = set(
        Completion.objects.filter(ritual=ritual).values_list("occurrence_at", flat=True).distinct()
    )
    if not kept:
        return 0
    start_of_today, end_of_today = local_day_bounds(timezone.localdate(now, zone), zone)
    count = 0
    before = end_of_today
    # Walk back in pages of a month: most streaks end long before the first
    # completion, and each page costs one pass of the rule.
    while True:
        page = ritual.schedule.previous_before(before, 31)
        for occurrence in page:
            if occurrence in kept:
                count += 1
            elif occurrence >= start_of_today:
                continue
            else:
                return count
        if len(page) < 31:
            return count
        before = page[-1]
