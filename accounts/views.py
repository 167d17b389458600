from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth.decorators import login_required
from django.contrib.sessions.models import Session
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.forms import DeleteAccountForm, ProfileForm


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST if request.method == "POST" else None, instance=request.user)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            form.save()  # the cached regions follow (couples.models: member_shown_changed)
            messages.success(request, "Saved. Times now show in your chosen time zone.")
            if not request.htmx:
                return redirect("profile")
            form = ProfileForm(instance=request.user)
        else:
            status = 422
    template = "accounts/profile.html#profile-form" if request.htmx else "accounts/profile.html"
    return render(request, template, {"form": form}, status=status)


def end_sessions_of(user_id: int) -> None:
    """Log the user out everywhere: every stored session that belongs to them.

    Sessions aren't indexed by user, so this reads them all; it runs only when
    an account is deleted.
    """
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for stored in Session.objects.iterator():
        if str(stored.get_decoded().get(SESSION_KEY)) == str(user_id):
            store(session_key=stored.session_key).delete()


@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request: HttpRequest) -> HttpResponse:
    form = DeleteAccountForm(request.POST if request.method == "POST" else None, user=request.user)
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "accounts/delete.html", {"form": form}, status=422)
        user = request.user
        # Deleting the user first ends their seat in a space, as leaving does
        # (couples.receivers), in this same transaction.
        with transaction.atomic():
            logout(request)
            end_sessions_of(user.pk)
            user.delete()
        messages.info(request, "Your account and everything you wrote are deleted. Take care.")
        return redirect("dashboard")
    return render(request, "accounts/delete.html", {"form": form})
