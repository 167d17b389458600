"""Pages that compose the other apps: the dashboard and the data export.

The apps below (couples, rituals, exercises) each own their part: the
dashboard asks each for what it shows, and no app imports another's views
(tests/test_layers.py).
"""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.views.decorators.http import require_GET, require_safe

from couples import panel
from couples.access import seat
from couples.forms import CodeForm, SpaceForm
from couples.viewer import viewer_for
from exercises import daily, live
from home.export import build_export
from rituals.agenda import dashboard_agenda


def dashboard_context(request: HttpRequest) -> dict:
    """The dashboard's context. Its busy region is a cached fragment
    (``couples.fragments``): its data is lazy, read only on a miss."""
    couple, user = request.couple, request.user
    now = timezone.now()
    return {
        **panel.context(request),
        "agenda": SimpleLazyObject(lambda: dashboard_agenda(couple, user, now)),
        "exercises": SimpleLazyObject(lambda: live.dashboard_sessions(couple, user)),
        # Today's question, and the first week's "start here": read on a miss only.
        "daily": SimpleLazyObject(lambda: daily.today_for(couple, user)),
        "today": timezone.localdate(now, user.zone),
        "couple_today": daily.couple_today(couple),
        "members": request.viewer.members,
    }


@require_safe
def dashboard(request: HttpRequest) -> HttpResponse:
    viewer = viewer_for(request)
    if viewer is None:
        return render(request, "landing.html")
    if viewer.membership is None:
        return render(
            request,
            "couples/start.html",
            {"space_form": SpaceForm(), "code_form": CodeForm()},
        )
    seat(request, viewer)
    return render(request, "home/dashboard.html", dashboard_context(request))


@login_required
@require_GET
def export(request: HttpRequest) -> HttpResponse:
    payload = json.dumps(build_export(request.user), indent=2, ensure_ascii=False)
    stamp = timezone.now().strftime("%Y-%m-%d")
    response = HttpResponse(payload, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="tend-export-{stamp}.json"'
    response["Cache-Control"] = "no-store"
    return response
