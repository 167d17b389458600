from __future__ import annotations

from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.conf import settings

from accounts.models import User, validate_time_zone


def time_zone_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        label="Time zone",
        choices=[(tz, tz.replace("_", " ")) for tz in settings.TIME_ZONES],
        initial="UTC",
        help_text="Reminders arrive, and times show, in this zone.",
        validators=[validate_time_zone],
        widget=forms.Select(attrs={"data-detect-time-zone": ""}),
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
