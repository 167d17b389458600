"""The live exercise as others see it: polls that cost one small query when
nothing changed, and the live and latest sessions the dashboard shows.

A poll arrives every two seconds from each partner's open page. The viewer's
one query (``couples.viewer``), which checks the session as Django's
``get_user`` would, brings the one value a poll compares along: the session's
version, or which exercise is live in the space. The page's new state is
rendered only when that value moved.
"""

from __future__ import annotations

from django.http import HttpRequest

from couples.viewer import Value, Viewer, viewer_for
from exercises.models import Session


def session_version(request: HttpRequest, session_id: int) -> tuple[Viewer, int] | None:
    """The viewer and the version of a session of their space, or None (not
    theirs, not in a space, or not logged in)."""
    version = Value(
        "SELECT s.version FROM exercises_session s WHERE s.id = %s AND s.couple_id = {couple}",
        (session_id,),
    )
    viewer = viewer_for(request, version=version)
    if viewer is None or viewer.couple is None or viewer.extra["version"] is None:
        return None
    return viewer, viewer.extra["version"]


def waiting_signature(request: HttpRequest) -> tuple[Viewer, str] | None:
    """The viewer and a short text that changes whenever the space's live
    exercise starts or ends; None outside a space."""
    # At most one session of a space is active (a unique constraint).
    live = Value(
        "SELECT s.id FROM exercises_session s WHERE s.couple_id = {couple} AND s.status = %s",
        (Session.Status.ACTIVE,),
    )
    viewer = viewer_for(request, live=live)
    if viewer is None or viewer.couple is None:
        return None
    return viewer, str(viewer.extra["live"] or 0)


HISTORY_SIZE = 5


def waiting_context(couple, user) -> dict:
    return dashboard_sessions(couple, user, history=0)


def dashboard_sessions(couple, user, history: int = HISTORY_SIZE) -> dict:
    """The live exercise, if any, and the latest finished ones, in one query.

    A couple has at most one active session and can't start another while it
    runs, so the active one is always the newest.
    """
    newest = list(
        Session.objects.filter(couple=couple)
        .select_related("started_by")
        .order_by("-created_at")[: history + 1]
    )
    live_session = newest[0] if newest and newest[0].is_active else None
    return {
        "live_session": live_session,
        "waiting_sig": str(live_session.pk if live_session else 0),
        "live_started_by_partner": bool(live_session and live_session.started_by_id != user.pk),
        "recent_sessions": [s for s in newest if not s.is_active][:history],
    }
