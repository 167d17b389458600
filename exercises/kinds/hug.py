from __future__ import annotations

from django import forms

from exercises.engine import Flow, Step, register
from exercises.models import Session

SHORT, LONG = 20, 300
LENGTHS = [(SHORT, "Twenty seconds"), (LONG, "A long hug: five minutes")]


class HugForm(forms.Form):
    seconds = forms.TypedChoiceField(label="How long", choices=LENGTHS, coerce=int, initial=SHORT)


@register
class Hug(Flow):
    kind = "hug"
    title = "Twenty-second hug"
    summary = "Hold each other while a quiet timer counts: twenty seconds, or a long five minutes."
    minutes = "1–5 min"
    settings_form = HugForm
    content_keys = ("intro", "how")

    def setup(self, session: Session, settings: dict) -> None:
        seconds = int(settings.get("seconds") or SHORT)
        session.settings = {"seconds": seconds if seconds in dict(LENGTHS) else SHORT}

    def steps(self, session: Session) -> list[Step]:
        text = self.content()
        seconds = session.settings.get("seconds", SHORT)
        return [
            Step(
                "intro",
                "info",
                "Before you hug",
                guide=text["intro"],
                prompt="\n".join(text["how"]),
            ),
            Step(
                "hug",
                "timer",
                dict(LENGTHS)[seconds],
                guide="When you're both ready, the timer starts; let go when it chimes, "
                "or whenever one of you wants to.",
                seconds=seconds,
            ),
        ]
