"""Polls that cost one small query when nothing changed.

A poll arrives every two seconds from each partner's open page. Loading the
user, then the membership, then the session would be three queries (plus the
session row); instead one query checks that the logged-in user is an active
member of the space the session belongs to and returns its version, and the
session-auth hash is verified from the same row, as Django's own
``get_user`` would (``accounts.sessions``).
"""

from __future__ import annotations

from django.db.models import OuterRef, Subquery
from django.http import HttpRequest

from accounts.sessions import session_hash_matches, session_user_id
from couples.models import Membership
from exercises.models import Session


def session_version(request: HttpRequest, session_id: int) -> int | None:
    """The version of a session the requester may see, or None (not theirs, or not logged in)."""
    user_id = session_user_id(request)
    if user_id is None:
        return None
    row = (
        Membership.objects.filter(
            user_id=user_id,
            user__is_active=True,
            left_at__isnull=True,
            couple__sessions__pk=session_id,
        )
        .values_list("couple__sessions__version", "user__password")
        .first()
    )
    if row is None or not session_hash_matches(request, row[1]):
        return None
    return row[0]


def waiting_signature(request: HttpRequest) -> str | None:
    """A short text that changes whenever the space's live exercise starts or ends."""
    user_id = session_user_id(request)
    if user_id is None:
        return None
    active = Session.objects.filter(couple=OuterRef("couple"), status=Session.Status.ACTIVE)
    row = (
        Membership.objects.filter(user_id=user_id, user__is_active=True, left_at__isnull=True)
        .annotate(live_id=Subquery(active.values("pk")[:1]))
        .values_list("live_id", "user__password")
        .first()
    )
    if row is None or not session_hash_matches(request, row[1]):
        return None
    return str(row[0] or 0)
