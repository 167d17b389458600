from __future__ import annotations

from django import forms

from exercises.engine import Flow, Step, register
from exercises.models import Session, Visibility

LENGTHS = [(120, "2 minutes"), (180, "3 minutes"), (300, "5 minutes"), (0, "Another length")]


class EyeGazingForm(forms.Form):
    length = forms.TypedChoiceField(label="How long", choices=LENGTHS, coerce=int, initial=120)
    custom_minutes = forms.DecimalField(
        label="Minutes (for another length)",
        required=False,
        min_value=0.25,
        max_value=10,
        decimal_places=2,
        help_text="From a quarter of a minute up to 10.",
    )
    gentle = forms.BooleanField(
        label="The gentler way: hands held, eyes closed, breathing together",
        required=False,
        help_text="For anyone who finds eye contact a lot. It counts just the same.",
    )

    def clean(self) -> dict:
        data = super().clean()
        if data.get("length") == 0:
            minutes = data.get("custom_minutes")
            if minutes is None:
                self.add_error("custom_minutes", "Enter how many minutes, up to 10.")
            else:
                data["seconds"] = int(minutes * 60)
        elif data.get("length"):
            data["seconds"] = data["length"]
        return data


@register
class EyeGazing(Flow):
    kind = "eye_gazing"
    title = "Eye gazing"
    summary = "Sit facing each other and hold a soft, quiet gaze while a shared timer runs."
    minutes = "2–10 min"
    settings_form = EyeGazingForm
    content_keys = ("intro", "how", "gentle", "reflection")

    def setup(self, session: Session, settings: dict) -> None:
        session.settings = {
            "seconds": int(settings.get("seconds") or 120),
            "gentle": bool(settings.get("gentle")),
        }

    def steps(self, session: Session) -> list[Step]:
        text = self.content()
        seconds = session.settings.get("seconds", 120)
        gentle = session.settings.get("gentle")
        how = text["gentle"] if gentle else "\n".join(text["how"])
        reflection = text["reflection"]
        return [
            Step("settle", "info", "Get comfortable", guide=text["intro"], prompt=how),
            Step(
                "gaze",
                "timer",
                "Hands held, eyes closed" if gentle else "Eyes on each other",
                guide="When you're both ready, the timer starts on both screens at once.",
                seconds=seconds,
            ),
            Step(
                "reflect",
                "write",
                "Afterwards",
                prompt=reflection[0],
                guide=reflection[1] if len(reflection) > 1 else "",
                visibility=Visibility.SHARED,
                optional=True,
            ),
            Step("together", "reveal", "What you both noticed", reveal_of=("reflect",)),
        ]
