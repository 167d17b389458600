"""The couple's weekly check-ins, week by week, answers side by side."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from couples.access import couple_required
from exercises.kinds.weekly_checkin import WeeklyCheckin, side_by_side
from exercises.models import Entry, Session

WEEKS_SHOWN = 12


@couple_required
@require_GET
def weekly_checkins(request: HttpRequest) -> HttpResponse:
    # Only what the reader may see: a sealed answer the partner never matched stays out.
    visible = Entry.objects.visible_to(request.user).select_related("author")
    sessions = (
        Session.objects.filter(couple=request.couple, kind=WeeklyCheckin.kind)
        .order_by("-created_at")
        .prefetch_related(Prefetch("entries", queryset=visible, to_attr="visible_entries"))
    )[:WEEKS_SHOWN]
    partner = request.partner
    weeks = [
        {"session": session, "rows": side_by_side(session.visible_entries, request.user.pk)}
        for session in sessions
    ]
    return render(
        request,
        "exercises/weekly.html",
        {
            "weeks": weeks,
            "partner_name": partner.get_short_name() if partner else "",
            "weeks_shown": WEEKS_SHOWN,
        },
    )
