from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest

from couples.panel import pending_invitation_path


class AccountAdapter(DefaultAccountAdapter):
    """Keep a partner's invitation across sign-up, email confirmation and log-in."""

    def save_user(self, request: HttpRequest, user, form, commit: bool = True):
        user = super().save_user(request, user, form, commit=False)
        user.display_name = form.cleaned_data["display_name"].strip()
        user.time_zone = form.cleaned_data["time_zone"]
        if commit:
            user.save()
        return user

    def _pending_invitation_url(self, request: HttpRequest) -> str | None:
        return pending_invitation_path(request)

    def get_login_redirect_url(self, request: HttpRequest) -> str:
        return self._pending_invitation_url(request) or super().get_login_redirect_url(request)

    def get_signup_redirect_url(self, request: HttpRequest) -> str:
        return self._pending_invitation_url(request) or super().get_signup_redirect_url(request)

    def get_email_verification_redirect_url(self, email_address) -> str:
        request = self.request
        return self._pending_invitation_url(request) or super().get_email_verification_redirect_url(
            email_address
        )
