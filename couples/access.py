"""The one way views reach couple data: through the requester's own space."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect

from couples.models import Invitation
from couples.viewer import Viewer, viewer_for


def seat(request: HttpRequest, viewer: Viewer) -> None:
    """Put the viewer's seat on the request, where every member view reads it."""
    request.viewer = viewer
    request.membership = viewer.membership
    request.couple = viewer.couple
    request.partner = viewer.partner


def couple_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Log-in required; sets ``request.couple``, ``request.membership``,
    ``request.partner`` and ``request.viewer`` from the viewer's one query
    (``couples.viewer``).

    A user without a space is sent to the page where they start one.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        viewer = viewer_for(request)
        if viewer is None:
            return redirect_to_login(request.get_full_path())
        if viewer.membership is None:
            return redirect("dashboard")
        seat(request, viewer)
        return view(request, *args, **kwargs)

    return wrapper


def get_invitation_for(request: HttpRequest, pk: int) -> Invitation:
    return get_object_or_404(Invitation, pk=pk, couple=request.couple)
