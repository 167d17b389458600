"""``{% exercise_menu as groups %}``: every exercise and journal page, in three groups.

One list for the dashboard and the Exercises page, so a page added here
shows in both: what to do today, what to do together live, and what to
come back to in your own time. The live exercises come from the engine's
registry, so a new one joins the menu by itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import template
from django.urls import reverse

from exercises.engine import REGISTRY

register = template.Library()


@dataclass(frozen=True)
class Item:
    key: str  # also names its picture: static/img/ex/<key>.svg
    title: str
    blurb: str
    url: str
    minutes: str = ""


@dataclass(frozen=True)
class Group:
    key: str
    title: str
    intro: str
    items: tuple[Item, ...]


# (url name, key, title, blurb)
TODAY = [
    (
        "daily_question",
        "daily_question",
        "Today's question",
        "One question a day; both answers open once you've each written yours.",
    ),
    (
        "appreciation",
        "appreciation",
        "Three appreciations",
        "Three small things you noticed and valued about each other today.",
    ),
]
OWN_TIME = [
    (
        "love_quiz",
        "love_quiz",
        "How I feel loved",
        "Thirty quick pairs to find the ways care reaches you most.",
    ),
    (
        "self_check",
        "self_check",
        "Connection self-check",
        "A private look at how close you've felt lately, with a few small steps.",
    ),
    (
        "our_story",
        "our_story",
        "Our story",
        "How you met, trips, hard times: each writes their side of a memory.",
    ),
    (
        "love_map",
        "love_map",
        "Our love map",
        "Where your Love maps rounds have taken you so far. Not a score.",
    ),
    (
        "weekly_checkins",
        "weekly_checkin",
        "Our weekly check-ins",
        "Past weeks side by side: what went well and what you needed.",
    ),
    (
        "rhythm",
        "rhythm",
        "Our rhythm",
        "Your rituals and time together over the weeks, in pictures.",
    ),
    (
        "exercise_history",
        "history",
        "What we've done",
        "Every exercise you've finished together, with what you wrote.",
    ),
    (
        "get_help",
        "get_help",
        "When to get help",
        "When a couples therapist can help, and where to turn if you don't feel safe.",
    ),
]


def _items(rows) -> tuple[Item, ...]:
    return tuple(Item(key, title, blurb, reverse(name)) for name, key, title, blurb in rows)


def groups() -> list[Group]:
    exercises = reverse("exercises")
    together = tuple(
        Item(kind, flow.title, flow.summary, f"{exercises}#exercise-{kind}", flow.minutes)
        for kind, flow in REGISTRY.items()
    )
    return [
        Group("today", "For today", "A few minutes each, whenever the day allows.", _items(TODAY)),
        Group(
            "together",
            "Together, live",
            "Side by side on one screen, or each on your own phone, with shared steps and timers.",
            together,
        ),
        Group(
            "own-time",
            "In your own time",
            "Pages to come back to, alone or together, whenever it suits you.",
            _items(OWN_TIME),
        ),
    ]


@register.simple_tag
def exercise_menu() -> list[Group]:
    return groups()
