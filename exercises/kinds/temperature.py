from __future__ import annotations

from exercises.content import load
from exercises.engine import Flow, Step, register
from exercises.models import Kind, Session, Visibility


@register
class TemperatureReading(Flow):
    """Five parts in order, each partner taking a turn at each; the middle three may be skipped."""

    kind = Kind.TEMPERATURE
    title = "Daily temperature reading"
    summary = "Five short parts, from thanks to hopes, each of you taking a turn."
    minutes = "15–20 min"

    def steps(self, session: Session) -> list[Step]:
        content = load("temperature")
        steps = [
            Step(
                "intro",
                "info",
                "How it works",
                guide=content.get("intro", ""),
                prompt=content.get("listener", ""),
            )
        ]
        for part in content["part"]:
            steps.append(
                Step(
                    part["key"],
                    "turns",
                    part["title"],
                    guide=part["guide"],
                    prompt=part["starter"],
                    listener=content.get("listener", ""),
                    note=True,
                    visibility=Visibility.SHARED,
                    optional=bool(part.get("skippable")),
                )
            )
        return steps
