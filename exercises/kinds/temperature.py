from __future__ import annotations

from exercises.engine import Flow, Step, register
from exercises.models import Session, Visibility


@register
class TemperatureReading(Flow):
    """Five parts in order, each partner taking a turn at each; the middle three may be skipped."""

    kind = "temperature"
    title = "Daily temperature reading"
    summary = "Five short parts, from thanks to hopes, each of you taking a turn."
    minutes = "15–20 min"
    content_keys = ("intro", "listener", "part.key", "part.title", "part.guide", "part.starter")

    def steps(self, session: Session) -> list[Step]:
        content = self.content()
        steps = [
            Step(
                "intro",
                "info",
                "How it works",
                guide=content["intro"],
                prompt=content["listener"],
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
                    listener=content["listener"],
                    note=True,
                    visibility=Visibility.SHARED,
                    optional=bool(part.get("skippable")),
                )
            )
        return steps
