from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.utils import timezone

from accounts.forms import time_zone_field
from accounts.models import zone_named
from rituals.models import REMINDER_LEADS, Ritual
from rituals.recurrence import ORDINALS, WEEKDAYS, Pattern, Schedule

# Schedules are for living people: far-off years only break date arithmetic.
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)

FREQUENCIES = [
    ("daily", "Every day"),
    ("weekly", "Every week, on the days I choose"),
    ("monthly_day", "Every month, on a date"),
    ("monthly_weekday", "Every month, on a weekday (e.g. the first Friday)"),
]


class RitualForm(forms.ModelForm):
    """A ritual's words and its schedule in plain choices, stored as an RRULE."""

    frequency = forms.ChoiceField(label="How often", choices=FREQUENCIES, initial="daily")
    weekdays = forms.MultipleChoiceField(
        label="On these days",
        choices=WEEKDAYS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    interval = forms.IntegerField(
        label="Every how many weeks",
        min_value=1,
        max_value=12,
        initial=1,
        help_text="1 for every week, 2 for every other week…",
    )
    month_day = forms.IntegerField(
        label="Day of the month",
        min_value=1,
        max_value=31,
        required=False,
        help_text="Months without this day are skipped.",
    )
    nth = forms.TypedChoiceField(
        label="Which one", choices=ORDINALS, coerce=int, required=False, initial=1
    )
    nth_weekday = forms.ChoiceField(label="Weekday", choices=WEEKDAYS, required=False, initial="FR")
    time_zone = time_zone_field()
    reminder_lead_minutes = forms.TypedChoiceField(
        label="Remind us", choices=REMINDER_LEADS, coerce=int, initial=15
    )
    nudge_me = forms.BooleanField(
        label="Email me before it",
        required=False,
        initial=True,
        help_text="Only changes your own reminders; your partner chooses theirs.",
    )

    class Meta:
        model = Ritual
        fields = [
            "title",
            "description",
            "how_to",
            "prompt",
            "start_time",
            "duration_minutes",
            "start_date",
            "end_date",
            "time_zone",
            "reminder_lead_minutes",
        ]
        labels = {
            "title": "Name",
            "start_time": "At",
            "duration_minutes": "For how many minutes",
            "start_date": "Starting on",
            "end_date": "Ending on",
        }
        help_texts = {"end_date": "Leave empty to keep it going."}
        widgets = {
            "start_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "start_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "end_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "description": forms.Textarea(attrs={"rows": 2}),
            "how_to": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["duration_minutes"].min_value = 1
        self.fields["duration_minutes"].max_value = 240
        self.fields["duration_minutes"].widget.attrs.update(min=1, max=240)
        if self.instance.pk and not self.is_bound:
            self._initial_from_rule(self.instance.rrule)
            self.initial["nudge_me"] = not self.instance.muted_by.filter(pk=user.pk).exists()

    def _initial_from_rule(self, rule: str) -> None:
        pattern = Pattern.from_rrule(rule)
        self.initial.update(
            frequency=pattern.frequency,
            weekdays=list(pattern.weekdays),
            interval=pattern.interval,
            month_day=pattern.month_day,
            nth=pattern.nth or 1,
            nth_weekday=pattern.nth_weekday or "FR",
        )

    def _clean_date(self, name: str) -> date | None:
        value = self.cleaned_data.get(name)
        if value is not None and not EARLIEST <= value <= LATEST:
            raise forms.ValidationError(f"Choose a date between {EARLIEST.year} and {LATEST.year}.")
        return value

    def clean_start_date(self) -> date | None:
        return self._clean_date("start_date")

    def clean_end_date(self) -> date | None:
        return self._clean_date("end_date")

    def clean_duration_minutes(self) -> int:
        value = self.cleaned_data["duration_minutes"]
        if not 1 <= value <= 240:
            raise forms.ValidationError("Choose between 1 and 240 minutes.")
        return value

    def clean(self) -> dict:
        data = super().clean()
        pattern = self._pattern(data)
        if pattern is None:
            return data
        data["rrule"] = pattern.to_rrule()
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", "The end date is before the start date.")
            return data
        schedule = self.schedule(data)
        if schedule is None:
            return data
        if schedule.next_after(timezone.now()) is None:
            self.add_error("end_date", "With these dates the ritual would never happen again.")
            return data
        lead = data.get("reminder_lead_minutes")
        gap = schedule.smallest_gap()
        if lead is not None and gap is not None and timedelta(minutes=lead) >= gap:
            self.add_error(
                "reminder_lead_minutes",
                "That reminder would arrive before the previous time is over: "
                "choose a shorter one for a ritual this frequent.",
            )
        return data

    def _pattern(self, data: dict) -> Pattern | None:
        frequency = data.get("frequency")
        if frequency == "weekly":
            if not data.get("weekdays"):
                self.add_error("weekdays", "Choose at least one day of the week.")
                return None
            return Pattern("weekly", tuple(data["weekdays"]), interval=data.get("interval") or 1)
        if frequency == "monthly_day":
            if not data.get("month_day"):
                self.add_error("month_day", "Choose a day of the month, 1 to 31.")
                return None
            return Pattern("monthly_day", month_day=data["month_day"])
        if frequency == "monthly_weekday":
            if not data.get("nth") or not data.get("nth_weekday"):
                self.add_error("nth_weekday", "Choose which weekday of the month.")
                return None
            return Pattern("monthly_weekday", nth=data["nth"], nth_weekday=data["nth_weekday"])
        if frequency == "daily":
            return Pattern("daily")
        return None

    @staticmethod
    def schedule(data: dict) -> Schedule | None:
        """The schedule the cleaned data describes, if complete."""
        from zoneinfo import ZoneInfo

        needed = ("rrule", "start_date", "start_time", "time_zone")
        if any(not data.get(name) for name in needed):
            return None
        return Schedule(
            rule=data["rrule"],
            start_date=data["start_date"],
            start_time=data["start_time"],
            zone=ZoneInfo(data["time_zone"]),
            end_date=data.get("end_date"),
        )

    def save(self, commit: bool = True) -> Ritual:
        ritual = super().save(commit=False)
        ritual.rrule = self.cleaned_data["rrule"]
        ritual.plan_next_reminder(timezone.now())
        if commit:
            ritual.save()
            if self.cleaned_data.get("nudge_me"):
                ritual.muted_by.remove(self.user)
            else:
                ritual.muted_by.add(self.user)
        return ritual


def default_start_date(zone_name: str) -> date:

    return timezone.localdate(timezone.now(), zone_named(zone_name))


class KeepForm(forms.Form):
    occurrence = forms.DateTimeField(widget=forms.HiddenInput)

    def clean_occurrence(self):
        value = self.cleaned_data["occurrence"]
        if not EARLIEST.year <= value.year <= LATEST.year:
            raise forms.ValidationError("That isn't a time of this ritual.")
        return value

    note = forms.CharField(
        label="A note (optional)",
        max_length=280,
        required=False,
        help_text="Your partner sees it.",
    )
    together = forms.BooleanField(label="We did it together", required=False, initial=True)
