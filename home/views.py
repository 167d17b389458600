"""Pages that compose the other apps: the dashboard and the data export.

The apps below (couples, rituals, exercises) each own their part: the
dashboard asks each for what it shows, and no app imports another's views
(tests/test_layers.py).
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.views.decorators.http import require_POST, require_safe

from couples import pages, panel
from couples.access import seat
from couples.forms import CodeForm, SpaceForm
from couples.viewer import viewer_for
from exercises import daily, live
from home.export import request_export
from home.models import KEPT_FOR, DataExport
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


def _export_page(request: HttpRequest) -> HttpResponse:
    # The file itself is left unread: the page only says how it stands.
    export = DataExport.objects.filter(user=request.user).defer("payload").first()
    now = timezone.now()
    if not export_page_stands_still(export, now):
        pages.dont_keep(request)
    context = {
        "export": export,
        "state": export.state(now) if export else None,
        "slow": export is not None and export.is_slow(now),
        "kept_days": KEPT_FOR.days,
    }
    template = "home/export.html#export-status" if request.htmx else "home/export.html"
    return render(request, template, context)


def export_page_stands_still(export: DataExport | None, now) -> bool:
    """Whether the page may be kept (``couples.pages``): every write of an export
    bumps EXPORTS, but the clock bumps nothing, so not while the page polls,
    nor when a kept copy could outlive the download it offers."""
    if export is None:
        return True
    state = export.state(now)
    if state == DataExport.State.READY:
        return export.expires_at - now > timedelta(seconds=pages.PAGE_TTL)
    return state == DataExport.State.FAILED


@login_required
@require_safe
def export(request: HttpRequest) -> HttpResponse:
    """Where a person asks for their data and downloads it once it is ready;
    while it is being prepared the status polls itself."""
    return _export_page(request)


@login_required
@require_POST
def export_prepare(request: HttpRequest) -> HttpResponse:
    request_export(request.user)
    if request.htmx:
        return _export_page(request)
    return redirect("export")


@login_required
@require_safe
def export_download(request: HttpRequest, token) -> HttpResponse:
    export = DataExport.objects.filter(token=token).first()
    if export is not None and export.user_id != request.user.pk:
        raise Http404("No such export.")
    state = export.state(timezone.now()) if export else DataExport.State.EXPIRED
    if state in (DataExport.State.PREPARING, DataExport.State.FAILED):
        return redirect("export")
    if state == DataExport.State.EXPIRED:
        # An old link: the export expired, or a fresher one replaced it.
        return render(request, "home/export_gone.html", status=410)
    response = HttpResponse(export.payload, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    response["Cache-Control"] = "no-store"
    return response
