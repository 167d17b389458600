"""The admin site, entered through the site's own log-in page.

Django's admin has a log-in form of its own that no rate limit covers:
staff log in at ``/accounts/login/`` like everyone (allauth's limits on
attempts per address and per account, email verification), then the admin
lets them in as long as they are staff.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme


class TendAdminSite(admin.AdminSite):
    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        """Never reads a password: sends visitors to the rate-limited log-in."""
        index = reverse("admin:index", current_app=self.name)
        wanted = request.GET.get(REDIRECT_FIELD_NAME, "")
        if not url_has_allowed_host_and_scheme(
            wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            wanted = index
        if not request.user.is_authenticated:
            return redirect_to_login(wanted, reverse("account_login"))
        if self.has_permission(request):
            return redirect(wanted)
        # Logged in without staff rights: sending them to log in again would loop.
        raise PermissionDenied
