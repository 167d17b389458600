from __future__ import annotations

from django import forms

from couples.models import CODE_LENGTH, normalize_code


class SpaceForm(forms.Form):
    name = forms.CharField(
        label="Name your space",
        max_length=80,
        required=False,
        help_text="Only the two of you see it, e.g. “Sam & Alex”.",
    )


class InviteForm(forms.Form):
    email = forms.EmailField(
        label="Your partner's email",
        required=False,
        help_text="We'll email them the link and code. Leave empty to share them yourself.",
    )

    def __init__(self, *args, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if email and self.user is not None and email == self.user.email.lower():
            raise forms.ValidationError("That's your own address: enter your partner's.")
        return email


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Invitation code",
        max_length=20,
        help_text="Eight letters and digits, like K7QM-4PXD. Dashes and case don't matter.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )

    def clean_code(self) -> str:
        code = normalize_code(self.cleaned_data["code"])
        if len(code) != CODE_LENGTH:
            raise forms.ValidationError("A code has eight letters and digits, like K7QM-4PXD.")
        return code


class LeaveForm(forms.Form):
    confirm = forms.BooleanField(
        label="I understand I will lose access to our shared space",
        error_messages={"required": "Tick the box to confirm you want to leave."},
    )
