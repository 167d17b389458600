from __future__ import annotations

from dataclasses import dataclass

from exercises.content import load
from exercises.engine import Flow, Step, register
from exercises.models import Entry, Session, Visibility


def prompts() -> list[dict]:
    return load("weekly_checkin")["prompt"]


def sections() -> list[dict]:
    """Each prompt with the key its answers are stored under, for side-by-side display."""
    return [
        {
            "key": prompt["key"],
            "prompt_key": f"{WeeklyCheckin.kind}:{prompt['key']}",
            "title": prompt["title"],
            "prompt": prompt["prompt"],
        }
        for prompt in prompts()
    ]


@dataclass
class Row:
    title: str
    prompt: str
    mine: Entry | None
    theirs: Entry | None


def side_by_side(entries: list[Entry], user_id: int) -> list[Row]:
    """One row per prompt with the reader's answer and the partner's.

    ``entries`` must already be filtered with ``Entry.objects.visible_to``:
    this only arranges what the reader may see.
    """
    rows = []
    for section in sections():
        answers = [e for e in entries if e.prompt_key == section["prompt_key"]]
        rows.append(
            Row(
                title=section["title"],
                prompt=section["prompt"],
                mine=next((e for e in answers if e.author_id == user_id), None),
                theirs=next((e for e in answers if e.author_id != user_id), None),
            )
        )
    return rows


@register
class WeeklyCheckin(Flow):
    """Three prompts each of you answers on your own, sealed, then all side by side."""

    kind = "weekly_checkin"
    title = "Weekly check-in"
    summary = "What went well, what could be better, and what you each need next week."
    minutes = "30 min"
    # Sealed answers only mean something when each writes on their own device.
    one_screen = False
    content_keys = ("intro", "prompt.key", "prompt.title", "prompt.prompt")

    def steps(self, session: Session) -> list[Step]:
        content = self.content()
        steps = [Step("intro", "info", "Before you start", guide=content["intro"].strip())]
        steps += [
            Step(
                prompt["key"],
                "write",
                prompt["title"],
                prompt=prompt["prompt"],
                visibility=Visibility.SEALED,
            )
            for prompt in content["prompt"]
        ]
        steps.append(
            Step(
                "together",
                "reveal",
                "Your week, side by side",
                guide="Read each other's answers, then talk them through. Start with what "
                "went well.",
                reveal_of=tuple(prompt["key"] for prompt in content["prompt"]),
                extra={"sections": sections()},
            )
        )
        return steps
