from __future__ import annotations

from django import forms

from exercises.engine import Flow
from exercises.models import Session


class StartForm(forms.Form):
    """How to do the exercise (two devices or one screen), plus its own settings."""

    mode = forms.ChoiceField(
        label="Where",
        choices=Session.Mode.choices,
        initial=Session.Mode.TWO_DEVICES,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, flow: Flow, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.flow = flow
        if not flow.one_screen:
            self.fields["mode"].choices = [
                (Session.Mode.TWO_DEVICES, Session.Mode.TWO_DEVICES.label)
            ]
        self.extra = flow.settings_form(*args, **kwargs) if flow.settings_form else None
        if self.extra is not None:
            self.fields.update(self.extra.fields)

    def clean(self) -> dict:
        data = super().clean()
        if self.extra is not None and not self.extra.is_valid():
            # The settings form's fields are also this form's, so their own
            # problems are already here: carry over only what its clean() adds.
            for name, errors in self.extra.errors.items():
                have = self.errors.get(name, [])
                for error in errors:
                    if error not in have:
                        self.add_error(None if name == "__all__" else name, error)
        return data

    def settings(self) -> dict:
        if self.extra is None:
            return {}
        return {
            key: (float(value) if hasattr(value, "as_tuple") else value)
            for key, value in self.extra.cleaned_data.items()
        }


class DailyAnswerForm(forms.Form):
    text = forms.CharField(
        label="Your answer",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Sealed: your partner sees it once they've answered too.",
        error_messages={"required": "Write a few words first."},
    )
