"""The daily question: one per couple per day, answers sealed until both have answered."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import zone_named
from config import regions
from config.text import plain_text
from couples.models import Couple
from exercises.content import load
from exercises.models import Entry, Visibility

PREFIX = "daily:"


def deck_keys() -> list[str]:
    return [question["key"] for question in load("daily")["question"]]


def texts() -> dict[str, str]:
    return {question["key"]: question["text"] for question in load("daily")["question"]}


def couple_today(couple: Couple) -> date:
    """The couple's day, in the space's own time zone, so both partners share one question."""
    return timezone.localdate(timezone.now(), zone_named(couple.time_zone))


def question_for(couple: Couple, day: date) -> str:
    """Each couple walks the whole deck in its own shuffled order before any repeat."""
    keys = deck_keys()
    order = keys[:]
    random.Random(f"tend-daily-{couple.pk}").shuffle(order)
    return order[(day - couple.created_at.date()).days % len(order)]


def key_for(day: date, question: str) -> str:
    return f"{PREFIX}{day.isoformat()}:{question}"


@dataclass
class Day:
    day: date
    question: str
    mine: Entry | None
    theirs: Entry | None  # only ever set once it may be read
    partner_answered: bool


def answer(couple: Couple, user, day: date, text: str) -> bool:
    """Record the user's answer to that day's question; False if already answered."""
    question = question_for(couple, day)
    try:
        with transaction.atomic():
            Entry.objects.create(
                couple=couple,
                author=user,
                prompt_key=key_for(day, question),
                visibility=Visibility.SEALED,
                text=plain_text(text, 2000),
            )
    except IntegrityError:
        return False
    # The dashboard's cached region shows whether today's question is answered.
    regions.changed(couple.pk, regions.AGENDA)
    return True


@dataclass
class Today:
    """Today's question as the dashboard shows it to one partner."""

    text: str
    answered_today: bool
    answered_ever: bool  # the first week's "start here" asks for one answer


def today_for(couple: Couple, user) -> Today:
    """Today's question and whether ``user`` has answered it, or any: one query,
    the newest of their daily keys (keys sort by date)."""
    day = couple_today(couple)
    key = key_for(day, question_for(couple, day))
    newest = (
        Entry.objects.filter(
            couple=couple,
            session=None,
            author=user,
            prompt_key__gte=PREFIX,
            prompt_key__lt=key_end(),
        )
        .order_by("-prompt_key")
        .values_list("prompt_key", flat=True)
        .first()
    )
    return Today(
        text=texts()[key.rsplit(":", 1)[1]],
        answered_today=newest == key,
        answered_ever=newest is not None,
    )


def key_end() -> str:
    """The first key after every daily one ("daily;" follows "daily:…")."""
    return PREFIX[:-1] + chr(ord(PREFIX[-1]) + 1)


def days(couple: Couple, user, newest: date, count: int) -> list[Day]:
    """The last ``count`` days up to ``newest``, with what ``user`` may read of each."""
    wanted = [newest - timedelta(days=n) for n in range(count)]
    keys = {key_for(d, question_for(couple, d)): d for d in wanted}
    # Everything the user wrote, and what the partner wrote only where the
    # visibility rule opens it (both answered): the partner's sealed text
    # never leaves the database otherwise.
    visible = Entry.objects.filter(couple=couple, session=None, prompt_key__in=keys).visible_to(
        user
    )
    partner_done = set(
        Entry.objects.filter(couple=couple, session=None, prompt_key__in=keys)
        .exclude(author=user)
        .values_list("prompt_key", flat=True)
    )
    by_key: dict[str, dict[str, Entry]] = {}
    for entry in visible.select_related("author"):
        by_key.setdefault(entry.prompt_key, {})[
            "mine" if entry.author_id == user.pk else "theirs"
        ] = entry
    texts_by_key = texts()
    result = []
    for key, day in keys.items():
        found = by_key.get(key, {})
        result.append(
            Day(
                day=day,
                question=texts_by_key[key.rsplit(":", 1)[1]],
                mine=found.get("mine"),
                theirs=found.get("theirs"),
                partner_answered=key in partner_done,
            )
        )
    return result
