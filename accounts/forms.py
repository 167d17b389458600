from __future__ import annotations

import json
from functools import cache

from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.forms.renderers import get_default_renderer
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from accounts.models import User, validate_time_zone
from config import timezones


class TimeZoneField(forms.ChoiceField):
    """Canonical IANA zones grouped by region, searchable by city, country or name.

    Without JavaScript it is a plain select with a group per region; tend.js
    adds a search box and picks the browser's zone on sign-up. A posted or
    stored alias (US/Pacific) stands for its zone (America/Los_Angeles), and
    a stored zone that has none (Etc/GMT+5) stays offered to whoever has it,
    so saving a form never moves anyone's time by accident.
    """

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("choices", zone_choices)
        super().__init__(**kwargs)

    def to_python(self, value) -> str:
        value = super().to_python(value)
        return timezones.canonical(value) or value

    def prepare_value(self, value):
        return (timezones.canonical(value) or value) if isinstance(value, str) else value

    def get_bound_field(self, form, field_name):
        current = form.initial.get(field_name)
        if (
            isinstance(current, str)
            and timezones.canonical(current) is None
            and current in timezones.legacy_names()
        ):
            self.choices = [*self.choices, ("Your current setting", [(current, current)])]
            self.widget.standard_choices = False
        return super().get_bound_field(form, field_name)


def zone_choices() -> list:
    return list(_zone_choices())


@cache
def _zone_choices() -> tuple:
    groups: dict[str, list[tuple[str, str]]] = {}
    for zone in timezones.zones():
        groups.setdefault(zone.region, []).append((zone.name, zone.label))
    utc = groups.pop("")
    return (*utc, *((timezones.REGIONS[region], items) for region, items in groups.items()))


CLOSE = "\n</select>"


@cache
def _zone_options(renderer) -> str:
    """The ~600 <option>s and <optgroup>s, none selected, as the renderer writes them."""
    html = forms.Select(choices=zone_choices()).render("z", None, renderer=renderer)
    opening = '<select name="z">'
    if not (html.startswith(opening) and html.endswith(CLOSE)):
        return ""  # a renderer that writes selects otherwise: ZoneSelect renders in full
    return html[len(opening) : -len(CLOSE)]


class ZoneSelect(forms.Select):
    """The time-zone select, its options written once per process (they are the same
    for everyone): each render writes the opening tag with this field's attributes and
    marks the selected option, identical to a full render (tests/accounts)."""

    standard_choices = True  # False once a person's legacy zone is offered too

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        renderer = renderer or get_default_renderer()
        options = _zone_options(renderer) if self.standard_choices else ""
        if not options:
            return super().render(name, value, attrs, renderer)
        context = {
            "widget": {
                "name": name,
                "is_hidden": self.is_hidden,
                "required": self.is_required,
                "value": self.format_value(value),
                "attrs": self.build_attrs(self.attrs, attrs),
                "template_name": self.template_name,
                "optgroups": [],
            }
        }
        shell = self._render(self.template_name, context, renderer)
        if not shell.endswith(CLOSE):
            return super().render(name, value, attrs, renderer)
        for chosen in context["widget"]["value"][:1]:
            marker = f'<option value="{escape(chosen)}">'
            options = options.replace(marker, f"{marker[:-1]} selected>", 1)
        return mark_safe(shell[: -len(CLOSE)] + options + CLOSE)  # noqa: S308 (rendered, escaped)


def time_zone_field() -> TimeZoneField:
    aliases = {
        alias: zone
        for alias, zone in timezones.aliases().items()
        if alias.partition("/")[0] in timezones.REGIONS
    }
    return TimeZoneField(
        label="Time zone",
        initial="UTC",
        help_text="Reminders arrive, and times show, in this zone.",
        validators=[validate_time_zone],
        widget=ZoneSelect(
            attrs={
                "data-detect-time-zone": "",
                "data-zone-picker": "",
                # Browsers may report an older name (Asia/Calcutta): tend.js
                # finds its zone here.
                "data-zone-aliases": json.dumps(aliases, separators=(",", ":")),
            }
        ),
    )


class SignupForm(AllauthSignupForm):
    display_name = forms.CharField(
        label="Your name",
        max_length=60,
        help_text="What your partner will see, e.g. your first name.",
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    time_zone = time_zone_field()

    field_order = ["display_name", "email", "password1", "time_zone"]


class ProfileForm(forms.ModelForm):
    time_zone = time_zone_field()

    class Meta:
        model = User
        fields = ["display_name", "time_zone", "reminders_enabled"]
        labels = {"display_name": "Your name", "reminders_enabled": "Email me before our rituals"}


class DeleteAccountForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="To make sure it's really you.",
    )

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That password isn't right.")
        return password
