from __future__ import annotations

from django import forms

from exercises.engine import Flow, Step, register
from exercises.models import Session, Visibility

LENGTHS = [(10, "10 minutes each"), (15, "15 minutes each")]


class StressTalkForm(forms.Form):
    minutes = forms.TypedChoiceField(
        label="How long each of you talks", choices=LENGTHS, coerce=int, initial=10
    )


@register
class StressTalk(Flow):
    """Each partner talks about stress from outside the relationship while the other
    listens by the listener's rules; a timer per speaker that either can pause."""

    kind = "stress_talk"
    title = "Stress-reducing conversation"
    summary = (
        "Take turns unloading the day's outside stress while the other listens and sides with you."
    )
    minutes = "20–30 min"
    settings_form = StressTalkForm
    content_keys = ("intro", "listener_rules", "speaker")

    def setup(self, session: Session, settings: dict) -> None:
        minutes = int(settings.get("minutes") or 10)
        session.settings = {"minutes": minutes if minutes in dict(LENGTHS) else 10}

    def steps(self, session: Session) -> list[Step]:
        text = self.content()
        rules = text["listener_rules"]
        speaker = text["speaker"]
        minutes = session.settings.get("minutes", 10)
        return [
            Step(
                "intro",
                "list",
                "How it works",
                guide=text["intro"],
                prompt="When it's your turn to listen:",
                extra={"points": rules, "after": f"When it's your turn to talk: {speaker}"},
            ),
            Step(
                "talk",
                "turns",
                "Your turns to talk",
                guide=f"Up to {minutes} minutes each. Start the timer when you begin; "
                "pause it whenever you need to.",
                prompt=speaker,
                # Rendered as one paragraph today; a line each if the template breaks lines.
                listener="\n".join(rules),
                seconds=minutes * 60,
                note=True,
                # What someone notes about their stress stays theirs unless they share it.
                visibility=Visibility.PRIVATE,
            ),
        ]
