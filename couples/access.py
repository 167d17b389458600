"""The one way views reach couple data: through the requester's own space."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect

from couples.models import Invitation, Membership


def couple_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Log-in required; sets ``request.couple`` and ``request.membership``.

    A user without a space is sent to the page where they start one.
    """

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        membership = (
            Membership.objects.active().select_related("couple").filter(user=request.user).first()
        )
        if membership is None:
            return redirect("dashboard")
        request.membership = membership
        request.couple = membership.couple
        return view(request, *args, **kwargs)

    return wrapper


def get_invitation_for(request: HttpRequest, pk: int) -> Invitation:
    return get_object_or_404(Invitation, pk=pk, couple=request.couple)
