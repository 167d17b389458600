"""Polls that cost one small query when nothing changed.

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
