"""The one way views reach couple data: through the requester's own space."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone

from accounts.middleware import without_user
from couples.models import Invitation
from couples.viewer import Row, Viewer, viewer_for


def seat(request: HttpRequest, viewer: Viewer) -> None:
    """Put the viewer's seat on the request, where every member view reads it."""
    request.viewer = viewer
    # The user itself, not the lazy stand-in: templates look at it a hundred times.
    request.user = viewer.user
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


def row_required(model: type[models.Model], missing: str) -> Callable:
    """``couple_required`` for a view of one row of the space, ``view(request, row)``:
    the row whose primary key is the URL's ``pk`` comes with the viewer, in their
    one query (``couples.viewer.Row``), and times are shown in their zone.

    A row of another space answers 404 (``missing``), as ``get_object_or_404``
    with the couple would; the rest as ``couple_required``, except that a
    write from outside any space answers 404 too.
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @without_user  # the viewer's query loads the user with the row
        @wraps(view)
        def wrapper(request: HttpRequest, pk: int) -> HttpResponse:
            viewer = viewer_for(request, row=Row(model, pk))
            if viewer is None:
                return redirect_to_login(request.get_full_path())
            if viewer.membership is None and request.method in ("GET", "HEAD"):
                return redirect("dashboard")  # a page: start a space again
            row = viewer.extra["row"]  # None too outside a space: a write answers 404
            if row is None:
                raise Http404(missing)
            seat(request, viewer)
            timezone.activate(viewer.zone)
            return view(request, row)

        return wrapper

    return decorate


def get_invitation_for(request: HttpRequest, pk: int) -> Invitation:
    return get_object_or_404(Invitation, pk=pk, couple=request.couple)
